package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// Crash injection (PRODUCT R7): the bot is killed with SIGKILL at many
// points of a turn, of !new and of !clear, then started again, over and
// over. The invariants hold throughout: no message gets a second reply, no
// command is lost, no platform_chat_id serves two rooms, and no chat is
// left outside its Space.
// The kill points come from a fixed list of delays after the user's
// message, so a failure is reproducible in kind if not to the millisecond.
//
// It runs Dendrite on PostgreSQL (Debian's package; without it the test
// skips, saying so, and fails when .ci/run requires it), as the appservice
// variant below does. On SQLite, under the kills on a busy machine,
// Dendrite loses events: in a cold run of the README's command the message
// sent after a restart never reached the bot's sync while Dendrite logged
// "database is locked (517)" in its sync API; earlier runs saw it panic on
// the same error (issue 18). That says nothing about the bot.
func TestCrashInjection(t *testing.T) {
	dsn := postgresDatabase(t, startPostgres(t), "dendrite")
	crashInjection(t, newWorldWith(t, harness.StackOptions{Users: []string{"alice"}, HomeserverDatabase: dsn}, "alice"))
}

// TestCrashInjectionAppservice is the crash test with the bot as an
// application service (issue 23): a kill leaves the homeserver's
// transaction unanswered, and the homeserver sends it again to the next
// bot. It runs on Dendrite on PostgreSQL. On Dendrite on SQLite it passed
// five runs and failed one in CI: the restarted bot's reply and final edit
// were answered 200 and never reached alice's client, while Dendrite
// logged "database is locked (517)" in the same second, its SQLite fault
// (see issue 18), not the bot's.
func TestCrashInjectionAppservice(t *testing.T) {
	dsn := postgresDatabase(t, startPostgres(t), "dendrite")
	crashInjection(t, newWorldWith(t, harness.StackOptions{Users: []string{"alice"}, Appservice: true, HomeserverDatabase: dsn}, "alice"))
}

func crashInjection(t *testing.T, w *world) {
	w.onboard()
	ctx, cancel := w.wait()
	defer cancel()
	// Eight kill points. More, faster restarts make Dendrite's SQLite sync
	// database panic ("database is locked (517)", a Dendrite bug on SQLite
	// under write contention, seen once in CI with twelve), which says
	// nothing about the bot.
	delays := []time.Duration{0, 5, 20, 50, 100, 200, 350, 600}
	sent := map[string]string{} // text → event id of the messages for the agent
	var logs []string           // what each bot process logged
	chatID := ""                // Chat 1's platform_chat_id, as the agent saw it last
	for i, d := range delays {
		text := fmt.Sprintf("crash %d", i)
		switch i % 4 {
		case 1:
			text = "!new"
		case 2:
			text = fmt.Sprintf("/slow 3 crash %d", i)
		case 3:
			text = "!clear"
		}
		eventID, err := w.alice.SendText(ctx, w.chat, text)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(text, "!") {
			sent[text] = eventID.String()
		}
		time.Sleep(d * time.Millisecond) // the kill point, not an assertion
		logs = append(logs, w.stack.Bot.StdoutLines()...)
		if err := w.stack.KillBot(); err != nil {
			t.Fatal(err)
		}
		if err := w.stack.StartBot(w.ctx); err != nil {
			t.Fatal(err)
		}
		// Let the restarted bot settle (its first syncs and reconciliation)
		// before the next kill, so the homeserver is not hammered.
		settle := fmt.Sprintf("settle %d", i)
		w.ask(settle, func(m harness.Message) bool { return m.FinalBody == "echo: "+settle })
		// A !clear is not lost: the next message goes to a new
		// conversation (the command is acked once that is stored, so a
		// kill before has it delivered again).
		settled := agentChatID(t, w, settle)
		if text == "!clear" && settled == chatID {
			t.Errorf("the !clear killed after %v was lost: Chat 1 still talks to platform_chat_id %s", d*time.Millisecond, settled)
		}
		chatID = settled
	}
	// The bot is healthy, and has answered whatever it was going to.
	w.ask("still there?", func(m harness.Message) bool { return m.FinalBody == "echo: still there?" })
	logs = append(logs, w.stack.Bot.StdoutLines()...)

	// No message got a second reply: the agent never got one twice (a
	// turn cut by a kill is reported, not replayed), and no complete echo
	// is in the timeline twice. (Cut replies of different turns can read
	// alike, "chunk 1 ", so they are not compared.)
	turns := map[string]int{}
	for _, r := range w.stack.Agent.Received() {
		if r.Type == "USER_MESSAGE" {
			turns[r.Text]++
		}
	}
	for text, n := range turns {
		if n > 1 {
			t.Errorf("the agent got %q %d times: a message was replayed", text, n)
		}
	}
	// No message was lost without a word: each reached the agent, or its
	// turn was cut by a kill and the user was told so after the restart.
	// (The sync position is stored only once a message is in its room's
	// record, so a kill before that has the homeserver deliver it again.)
	for text, eventID := range sent {
		if turns[text] == 0 && !slices.ContainsFunc(logs, func(l string) bool {
			return strings.Contains(l, "a restart cut off a turn") && strings.Contains(l, eventID)
		}) {
			t.Errorf("%q (%s) never reached the agent, and no cut-off turn was reported for it: lost without a word", text, eventID)
		}
	}
	replies := map[string]int{}
	for _, m := range w.alice.Messages(w.chat) {
		if m.Sender == w.stack.BotID && m.MsgType == event.MsgText && strings.HasPrefix(m.FinalBody, "echo: crash") {
			replies[m.FinalBody]++
		}
	}
	for body, n := range replies {
		if n > 1 {
			t.Errorf("%d replies %q: a message was answered twice", n, body)
		}
	}

	// Every chat the bot made is in the Space, and each talks at its own
	// platform_chat_id.
	var chats []id.RoomID
	for _, inv := range w.alice.Invites() {
		if inv.Sender == w.stack.BotID && inv.RoomID != w.space && !slices.Contains(chats, inv.RoomID) {
			chats = append(chats, inv.RoomID)
		}
	}
	children := w.children()
	owner := map[string]id.RoomID{}
	for i, room := range chats {
		if !slices.ContainsFunc(children, func(c harness.SpaceChild) bool { return c.RoomID == room }) {
			t.Errorf("chat %s is not in the Space %s", room, w.space)
			continue
		}
		if err := w.alice.WaitJoined(ctx, room); err != nil {
			t.Fatal(err)
		}
		chatID := w.chatIDOf(room, fmt.Sprintf("which conversation is this? %d", i))
		if other, taken := owner[chatID]; taken {
			t.Errorf("platform_chat_id %s serves both %s and %s", chatID, other, room)
		}
		owner[chatID] = room
	}
	// No !new was lost: one cut while its room was being made is
	// delivered again after the restart (its ack waits for the room). None
	// was made twice: a second delivery finds the chat the first made
	// (RoomRecord.CreatedBy).
	news := 0
	for i := range delays {
		if i%4 == 1 {
			news++
		}
	}
	switch {
	case len(chats) < 1+news:
		t.Errorf("%d chats for Chat 1 and %d !new: a !new was lost", len(chats), news)
	case len(chats) > 1+news:
		t.Errorf("%d chats for Chat 1 and %d !new: a kill made one twice", len(chats), news)
	}
	t.Logf("%d kills; %d chats, %d distinct platform_chat_ids; turns the agent got: %s", len(delays), len(chats), len(owner),
		strings.Join(keys(turns), ", "))
}

// agentChatID is the platform_chat_id the agent got text on last.
func agentChatID(t *testing.T, w *world, text string) string {
	t.Helper()
	for _, r := range slices.Backward(w.stack.Agent.Received()) {
		if r.Type == "USER_MESSAGE" && r.Text == text {
			return r.ChatID
		}
	}
	t.Fatalf("the agent never received %q", text)
	return ""
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
