package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// The operator tools against the real homeserver, with the bot stopped
// (PRODUCT R7.4, R8.1): `surfaces reconcile --dry-run` finds nothing to do
// on an intact state and lists what it would recover after the state
// directory is lost, without writing it; `surfaces reconcile` writes it;
// `surfaces reset` lists the rooms it would leave, deletes the state
// directory only with --yes, and leaves and forgets every room.
func TestOperatorTools(t *testing.T) {
	w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"}}, "alice")
	w.onboard()
	chatID := w.chatIDOf(w.chat, "hello before the tools")
	if err := w.stack.StopBot(); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(w.stack.Dir(), "state")
	alice := w.alice.UserID().String()
	recoverChat := fmt.Sprintf("recover room %s %q of %s: platform_chat_id %s, agent agent-0", w.chat, "Chat 1", alice, chatID)

	out := w.surfaces(0, "reconcile", "--dry-run")
	wantLines(t, "reconcile --dry-run on an intact state", out,
		"Reconciliation plan (dry run: nothing was written):",
		"  nothing to recover or repair",
		"recovered_users=0 recovered_rooms=0 repaired_records=0 repaired_states=0 backfilled=0")

	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	out = w.surfaces(0, "reconcile", "--dry-run")
	wantLines(t, "reconcile --dry-run after the loss", out,
		"  recover user "+alice+": Space "+string(w.space),
		"  "+recoverChat,
		"recovered_users=1 recovered_rooms=1")
	wantNoDir(t, stateDir, "reconcile --dry-run")

	out = w.surfaces(0, "reset", "--mode", "server-leave-forget", "--dry-run")
	wantLines(t, "reset --mode server-leave-forget --dry-run", out,
		"would leave and forget 3 rooms:",
		"  "+string(w.space)+": Space of "+alice,
		fmt.Sprintf("  %s: chat %q of %s (platform_chat_id %s)", w.chat, "Chat 1", alice, chatID),
		": direct chat of "+alice,
		"state directory "+stateDir+" does not exist: nothing to delete",
		"dry run: nothing was changed")
	wantNoDir(t, stateDir, "reset --dry-run")
	if m := w.botMembership(w.chat); m != "join" {
		t.Fatalf("after the dry run the bot's membership in Chat 1 is %q, want join", m)
	}

	out = w.surfaces(0, "reconcile")
	wantLines(t, "reconcile", out, "Reconciliation applied:", "  recovered room "+string(w.chat), "recovered_rooms=1")
	out = w.surfaces(0, "reconcile", "--dry-run")
	wantLines(t, "reconcile --dry-run after reconcile", out, "  nothing to recover or repair", "recovered_users=0 recovered_rooms=0")

	out = w.surfaces(2, "reset", "--mode", "local-only")
	wantLines(t, "reset --mode local-only without --yes", out, "would delete "+stateDir+" (1 user, 1 room)")
	if _, err := os.Stat(stateDir); err != nil {
		t.Fatalf("reset without --yes deleted the state directory: %v", err)
	}
	out = w.surfaces(0, "reset", "--mode", "local-only", "--yes")
	wantLines(t, "reset --mode local-only --yes", out, "deleted "+stateDir+" (1 user, 1 room)")
	wantNoDir(t, stateDir, "reset --mode local-only --yes")

	out = w.surfaces(0, "reset", "--mode", "server-leave-forget", "--yes")
	wantLines(t, "reset --mode server-leave-forget --yes", out,
		"left and forgot "+string(w.space)+": Space of "+alice,
		"left and forgot "+string(w.chat)+": chat")
	if m := w.botMembership(w.chat); m != "leave" {
		t.Fatalf("after the reset the bot's membership in Chat 1 is %q, want leave", m)
	}
	out = w.surfaces(0, "reset", "--mode", "server-leave-forget", "--dry-run")
	wantLines(t, "reset --dry-run after the reset", out, "would leave and forget 0 rooms:")
}

// surfaces runs the bot's binary with the stack's environment, checks its
// exit code and returns its stdout.
func (w *world) surfaces(wantCode int, args ...string) string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.stack.BotBinary(), args...)
	cmd.Env = append(os.Environ(), w.stack.BotEnv()...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		w.t.Fatalf("surfaces %s: %v", strings.Join(args, " "), err)
	}
	if code := cmd.ProcessState.ExitCode(); code != wantCode {
		w.t.Fatalf("surfaces %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, stdout.String(), stderr.String())
	}
	w.t.Logf("surfaces %s:\n%s", strings.Join(args, " "), stdout.String())
	return stdout.String()
}

// botMembership is the bot's membership in room as the user sees it.
func (w *world) botMembership(room id.RoomID) string {
	w.t.Helper()
	ctx, cancel := w.wait()
	defer cancel()
	state, err := w.alice.RoomState(ctx, room)
	if err != nil {
		w.t.Fatal(err)
	}
	evt := state[event.StateMember][w.stack.BotID.String()]
	if evt == nil {
		return ""
	}
	var m struct {
		Membership string `json:"membership"`
	}
	if err := json.Unmarshal(evt.Content.VeryRaw, &m); err != nil {
		w.t.Fatal(err)
	}
	return m.Membership
}

func wantLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(out, s) {
			t.Fatalf("%s printed\n%s\nwithout %q", what, out, s)
		}
	}
}

func wantNoDir(t *testing.T, dir, after string) {
	t.Helper()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after %s the state directory exists (%v), want it absent", after, err)
	}
}
