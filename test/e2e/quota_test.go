package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// Per-user quotas (PRODUCT R6.4, issue 19 point 7), end to end: a user at
// the chat quota gets a notice naming !archive and no room is made; a user
// over the staged-bytes quota gets a notice and nothing of the file is left
// in the agent's workspace; /metrics counts both refusals.
func TestQuotas(t *testing.T) {
	w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"}, BotEnv: []string{
		"SURFACES_QUOTA_MAX_CHATS=2",
		"SURFACES_QUOTA_MAX_STAGED_BYTES=100KiB",
	}}, "alice")
	w.onboard()

	w.ask("!new", func(m harness.Message) bool { return strings.Contains(m.FinalBody, "I made") })
	invites := len(w.alice.Invites())
	w.ask("!new", func(m harness.Message) bool { return strings.Contains(m.FinalBody, "!archive") })
	w.ask("still here?", func(m harness.Message) bool { return m.FinalBody == "echo: still here?" })
	if got := len(w.alice.Invites()); got != invites {
		t.Fatalf("a !new past the chat quota invited the user to %d more rooms", got-invites)
	}
	if n := len(w.children()); n != 2 {
		t.Fatalf("the Space lists %d chats, want the 2 the quota allows", n)
	}

	ctx, cancel := w.wait()
	defer cancel()
	if _, err := w.alice.SendFile(ctx, w.chat, "first.bin", "application/octet-stream", bytes.Repeat([]byte("a"), 60<<10), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && strings.Contains(m.FinalBody, `Got **first\.bin**`)
	}); err != nil {
		t.Fatalf("no confirmation of the first file: %v", err)
	}
	incoming := filepath.Join(w.stack.Dir(), "agents", "0", "incoming")
	before, _ := os.ReadDir(incoming)
	if _, err := w.alice.SendFile(ctx, w.chat, "second.bin", "application/octet-stream", bytes.Repeat([]byte("b"), 60<<10), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && strings.Contains(m.FinalBody, "over your limit")
	}); err != nil {
		t.Fatalf("no notice for a file over the staged-bytes quota: %v", err)
	}
	after, _ := os.ReadDir(incoming)
	if len(after) != len(before) {
		t.Fatalf("the workspace's incoming/ holds %d entries after a file over the quota, want %d", len(after), len(before))
	}

	families := scrape(t, w)
	for _, quota := range []string{"chats", "staged_bytes"} {
		if got := sample(families, "surfaces_quota_refusals_total", map[string]string{"quota": quota}); got != 1 {
			t.Errorf("surfaces_quota_refusals_total{quota=%s} = %v, want 1", quota, got)
		}
	}
}
