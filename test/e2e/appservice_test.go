package e2e

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"maunium.net/go/mautrix/event"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// inEachMode runs test once per way the bot reads the homeserver (issue
// 23): syncing, and as an application service Dendrite pushes events to,
// with alice registered.
func inEachMode(t *testing.T, test func(t *testing.T, opts harness.StackOptions)) {
	for _, mode := range []struct {
		name       string
		appservice bool
	}{{"syncing", false}, {"appservice", true}} {
		t.Run(mode.name, func(t *testing.T) {
			test(t, harness.StackOptions{Users: []string{"alice"}, Appservice: mode.appservice})
		})
	}
}

// The bot as an application service (issue 23): Dendrite loads the
// registration `surfaces appservice register` wrote, as it is, and pushes
// events to the bot, which onboards a user and answers, streaming, as in
// client mode, and again after a restart.
func TestAppserviceMode(t *testing.T) {
	w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"}, Appservice: true}, "alice")
	w.onboard()
	w.ask("hello, appservice", func(m harness.Message) bool { return m.FinalBody == "echo: hello, appservice" })
	reply := w.ask("/slow 3", func(m harness.Message) bool { return strings.TrimSpace(m.FinalBody) == "chunk 1 chunk 2 chunk 3" })
	if reply.Edits == 0 {
		t.Error("the streamed reply came without edits")
	}
	if err := w.stack.StopBot(); err != nil {
		t.Fatal(err)
	}
	if err := w.stack.StartBot(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.ask("after the restart", func(m harness.Message) bool { return m.FinalBody == "echo: after the restart" })

	t.Run("its API refuses a wrong token and bad bodies, and a replayed transaction changes nothing", func(t *testing.T) {
		raw, err := os.ReadFile(w.stack.Registration())
		if err != nil {
			t.Fatal(err)
		}
		var reg struct {
			URL     string `yaml:"url"`
			HSToken string `yaml:"hs_token"`
		}
		if err := yaml.Unmarshal(raw, &reg); err != nil {
			t.Fatal(err)
		}
		put := func(txn, token, body string) int {
			t.Helper()
			req, _ := http.NewRequest(http.MethodPut, reg.URL+"/_matrix/app/v1/transactions/"+txn, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		// A message from alice as the homeserver would push it, sent by
		// the test with the registration's token.
		msg := fmt.Sprintf(`{"events":[{"type":"m.room.message","room_id":%q,"event_id":"$pushed-by-the-test","sender":%q,"origin_server_ts":%d,"content":{"msgtype":"m.text","body":"pushed"}}]}`,
			w.chat, w.alice.UserID(), time.Now().UnixMilli())
		if code := put("test-wrong", "not-the-token", msg); code != http.StatusForbidden {
			t.Fatalf("a wrong token: %d, want 403", code)
		}
		if code := put("test-bad", reg.HSToken, `{"events":`); code != http.StatusBadRequest {
			t.Fatalf("malformed JSON: %d, want 400", code)
		}
		for range 2 {
			if code := put("test-1", reg.HSToken, msg); code != http.StatusOK {
				t.Fatalf("the transaction: %d, want 200", code)
			}
		}
		w.ask("after the pushed one", func(m harness.Message) bool { return m.FinalBody == "echo: after the pushed one" })
		var got []string
		for _, r := range w.stack.Agent.Received() {
			if r.Text == "pushed" || r.Text == "not-the-token" {
				got = append(got, r.Text)
			}
		}
		if len(got) != 1 {
			t.Fatalf("the agent got the pushed message %d times, want once (the replay changes nothing, the refused ones nothing)", len(got))
		}
	})

	// It was pushed to: the room sync loop never ran, only the device's
	// to-device sync (encryption is on, as by default).
	lines := w.stack.Bot.StdoutLines()
	has := func(msg string) bool {
		return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, `"message":"`+msg+`"`) })
	}
	if !has("appservice API listening") || !has("syncing the bot's device for to-device events") {
		t.Error("the bot did not serve the appservice API and sync its device for to-device events")
	}
	if has("syncing") || has("first sync done") {
		t.Error("the bot ran its room sync loop in appservice mode")
	}
}

// An invite answered 200 is the bot's to finish (issue 21's crowd as an
// application service): a kill -9 after the answer, while the user's
// rooms are being made, and the next start onboards the user from the
// inbox, though the homeserver does not send the invite again; one Space.
func TestAppserviceOnboardingSurvivesAKillAfterTheInviteIsAnswered(t *testing.T) {
	w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"}, Appservice: true}, "alice")
	ctx, cancel := w.wait()
	defer cancel()
	dm, err := w.alice.CreateDM(ctx, w.stack.BotID)
	if err != nil {
		t.Fatal(err)
	}
	m, err := w.stack.Bot.WaitForLine(ctx, regexp.MustCompile(`"txn_id":"([^"]+)"[^\n]*"message":"invite received"`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.stack.Bot.WaitForLine(ctx, regexp.MustCompile(`"txn_id":"`+regexp.QuoteMeta(m[1])+`"[^\n]*"message":"appservice transaction answered"`)); err != nil {
		t.Fatal(err)
	}
	killed := w.stack.Bot
	if err := w.stack.KillBot(); err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(killed.StdoutLines(), func(l string) bool { return strings.Contains(l, `"message":"chat created"`) }) {
		// Not a failure, but this run did not test the restart's part.
		t.Log("the killed bot had made the chat already")
	}
	if err := w.stack.StartBot(w.ctx); err != nil {
		t.Fatal(err)
	}
	if w.space, w.chat = onboarded(ctx, t, w.stack.BotID, w.alice, dm); t.Failed() {
		t.FailNow()
	}
	w.ask("onboarded after the kill?", func(m harness.Message) bool { return m.FinalBody == "echo: onboarded after the kill?" })
	spaces := map[string]bool{}
	for _, inv := range w.alice.Invites() {
		if inv.Sender == w.stack.BotID && inv.RoomType() == event.RoomTypeSpace {
			spaces[inv.RoomID.String()] = true
		}
	}
	if len(spaces) != 1 {
		t.Fatalf("alice was invited to %d Spaces, want one", len(spaces))
	}
}
