package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/agents/refagent"
	"github.com/surfaces-bot/surfaces/test/harness"
)

// world is the running stack plus the user's view of onboarding.
type world struct {
	t     *testing.T
	ctx   context.Context
	stack *harness.Stack
	alice *harness.UserClient
	space id.RoomID
	chat  id.RoomID
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldWith(t, harness.StackOptions{Users: []string{"alice"}}, "alice")
}

// newWorldWith starts a stack with opts (the test defaults below added) and
// the bot, and logs in the user "who" as the world's alice.
func newWorldWith(t *testing.T, opts harness.StackOptions, who string, clientOpts ...harness.ClientOption) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs Dendrite and the bot; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	t.Cleanup(cancel)
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	ctx = log.WithContext(ctx)
	opts.Agent.SlowDelay, opts.Agent.SlowChunks = 400*time.Millisecond, 10
	opts.BotEnv = append([]string{
		"SURFACES_STREAMING_EDIT_INTERVAL=500ms",
		"SURFACES_AGENTS_TURN_IDLE_TIMEOUT=5s",
		// The tests type faster than a person: the rate limit (default
		// 10 at once, then one every 2 s) is tested with the kit instead.
		"SURFACES_RATE_LIMIT_RATE=100",
		"SURFACES_RATE_LIMIT_BURST=1000",
	}, opts.BotEnv...)
	stack, err := harness.StartStack(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ctx: ctx, stack: stack}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range stack.BotLogs {
				t.Logf("bot log %s:\n%s", p, harness.TailFile(p, 60))
			}
			t.Logf("dendrite log:\n%s", stack.HS.LogTail(20))
			dir, hsDir := stack.Keep()
			t.Logf("kept the whole logs and state in %s and %s", dir, hsDir)
		}
		if err := stack.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := stack.StartBot(ctx); err != nil {
		t.Fatal(err)
	}
	if w.alice, err = stack.Login(ctx, who, clientOpts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.alice.Close() })
	w.alice.AcceptInvites(true)
	return w
}

// logIn logs more registered users in, each accepting the bot's
// invitations, closed when the test ends.
func (w *world) logIn(ctx context.Context, localparts ...string) []*harness.UserClient {
	w.t.Helper()
	var clients []*harness.UserClient
	for _, u := range localparts {
		c, err := w.stack.Login(ctx, u)
		if err != nil {
			w.t.Fatal(err)
		}
		w.t.Cleanup(func() { _ = c.Close() })
		c.AcceptInvites(true)
		clients = append(clients, c)
	}
	return clients
}

func (w *world) wait() (context.Context, context.CancelFunc) {
	return context.WithTimeout(w.ctx, 90*time.Second)
}

// onboard invites the bot to a DM and follows the bot's invitations to the
// Space and Chat 1, as a person in Element would.
func (w *world) onboard() {
	w.t.Helper()
	ctx, cancel := w.wait()
	defer cancel()
	w.space, w.chat = onboard(ctx, w.t, w.stack.BotID, w.alice)
	if w.t.Failed() {
		w.t.FailNow()
	}
}

// onboard makes user invite the bot to a DM, then checks what the bot does:
// invitations to a Space and its Chat 1, a welcome there and a pointer in
// the DM. It returns the Space and Chat 1. It is safe to run for several
// users at once (t.Errorf is; the caller stops on Failed).
func onboard(ctx context.Context, t testing.TB, bot id.UserID, user *harness.UserClient) (space, chat id.RoomID) {
	t.Helper()
	dm, err := user.CreateDM(ctx, bot)
	if err != nil {
		t.Errorf("%s: %v", user.UserID(), err)
		return "", ""
	}
	return onboarded(ctx, t, bot, user, dm)
}

// onboarded checks what the bot does once invited to dm (see onboard).
func onboarded(ctx context.Context, t testing.TB, bot id.UserID, user *harness.UserClient, dm id.RoomID) (space, chat id.RoomID) {
	t.Helper()
	spaceInv, err := user.WaitInvite(ctx, func(inv harness.Invite) bool {
		return inv.Sender == bot && inv.RoomType() == event.RoomTypeSpace
	})
	if err != nil {
		t.Errorf("%s: no Space invite: %v", user.UserID(), err)
		return "", ""
	}
	chatInv, err := user.WaitInvite(ctx, func(inv harness.Invite) bool {
		return inv.Sender == bot && inv.RoomID != dm && inv.RoomType() == ""
	})
	if err != nil {
		t.Errorf("%s: no chat invite: %v", user.UserID(), err)
		return "", ""
	}
	space, chat = spaceInv.RoomID, chatInv.RoomID
	for _, room := range []id.RoomID{chat, space} {
		if err := user.WaitJoined(ctx, room); err != nil {
			t.Errorf("%s: %v", user.UserID(), err)
			return "", ""
		}
	}
	welcome, err := user.WaitMessage(ctx, chat, func(m harness.Message) bool {
		return m.Sender == bot && m.MsgType == event.MsgNotice && strings.Contains(m.FinalBody, "!help")
	})
	if err != nil {
		t.Errorf("%s: no welcome in Chat 1: %v", user.UserID(), err)
		return "", ""
	}
	if !strings.Contains(welcome.FinalBody, "Chat 1") {
		t.Errorf("%s: welcome %q does not name Chat 1", user.UserID(), welcome.FinalBody)
	}
	if _, err := user.WaitMessage(ctx, dm, func(m harness.Message) bool {
		return m.Sender == bot && strings.Contains(m.FinalBody, string(chat))
	}); err != nil {
		t.Errorf("%s: no pointer to the new chat in the DM: %v", user.UserID(), err)
	}
	return space, chat
}

// ask sends text in Chat 1 and waits for the bot's reply whose final body
// satisfies done.
func (w *world) ask(text string, done func(harness.Message) bool) harness.Message {
	w.t.Helper()
	return w.askIn(w.chat, text, done)
}

// askIn sends text in room and waits for the bot's message there, after
// the user's, whose final body satisfies done.
func (w *world) askIn(room id.RoomID, text string, done func(harness.Message) bool) harness.Message {
	t := w.t
	t.Helper()
	ctx, cancel := w.wait()
	defer cancel()
	sent, err := w.alice.SendText(ctx, room, text)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := w.alice.WaitMessage(ctx, room, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && m.EventID != sent && done(m) && afterEvent(w, room, sent, m)
	})
	if err != nil {
		t.Fatalf("no reply to %q in %s: %v", text, room, err)
	}
	return msg
}

// afterEvent reports whether m came after the user's event sent, in the
// room's timeline as the user received it.
func afterEvent(w *world, room id.RoomID, sent id.EventID, m harness.Message) bool {
	return w.alice.ArrivedAfter(room, sent, m.EventID)
}

func TestConversationEndToEnd(t *testing.T) {
	inEachMode(t, func(t *testing.T, opts harness.StackOptions) {
		conversationEndToEnd(t, newWorldWith(t, opts, "alice"))
	})
}

func conversationEndToEnd(t *testing.T, w *world) {
	w.onboard()

	t.Run("Chat 1 is a child of the Space", func(t *testing.T) {
		ctx, cancel := w.wait()
		defer cancel()
		children, err := w.alice.SpaceChildren(ctx, w.space)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range children {
			if c.RoomID == w.chat && c.Name == "Chat 1" {
				found = true
			}
		}
		if !found {
			t.Fatalf("Space children %+v do not include Chat 1 (%s)", children, w.chat)
		}
		state, err := w.alice.RoomState(ctx, w.chat)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := state[event.StateSpaceParent][string(w.space)]; !ok {
			t.Fatalf("Chat 1 has no m.space.parent pointing at %s", w.space)
		}
	})

	t.Run("hello gets the agent's reply", func(t *testing.T) {
		reply := w.ask("hello", func(m harness.Message) bool { return m.MsgType == event.MsgText })
		// Wait for the final edit: the reply's text is final when it equals
		// what the agent sent.
		ctx, cancel := w.wait()
		defer cancel()
		final, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
			return m.EventID == reply.EventID && m.FinalBody == "echo: hello"
		})
		if err != nil {
			t.Fatalf("final reply never became %q (last %q): %v", "echo: hello", reply.FinalBody, err)
		}
		if strings.Contains(final.FinalBody, "⚙") {
			t.Fatalf("progress line left in the final text: %q", final.FinalBody)
		}
	})

	t.Run("a slow reply is edited while it streams", func(t *testing.T) {
		want := ""
		for i := 1; i <= 10; i++ {
			want += "chunk " + strconv.Itoa(i) + " "
		}
		reply := w.ask("/slow", func(m harness.Message) bool { return m.MsgType == event.MsgText && m.FinalBody == want })
		if reply.Edits < 2 {
			t.Fatalf("%d edits, want at least one before the final one", reply.Edits)
		}
		if reply.History[0].Body == want {
			t.Fatal("the first edit already had the whole text: nothing streamed")
		}
		// The bot was shown typing while the agent worked, and stops.
		typed := false
		for _, users := range w.alice.Typing(w.chat) {
			if slices.Contains(users, w.stack.BotID) {
				typed = true
			}
		}
		if !typed {
			t.Fatal("the bot never showed as typing")
		}
		ctx, cancel := w.wait()
		defer cancel()
		if _, err := w.alice.WaitTyping(ctx, w.chat, func(users []id.UserID) bool {
			return !slices.Contains(users, w.stack.BotID)
		}); err != nil {
			t.Fatalf("typing never turned off: %v", err)
		}
	})

	t.Run("Markdown is rendered to HTML and body keeps the text", func(t *testing.T) {
		reply := w.ask("**bold** and <b>raw</b>", func(m harness.Message) bool {
			return m.FinalBody == "echo: **bold** and <b>raw</b>"
		})
		if !strings.Contains(reply.FormattedBody, "<strong>bold</strong>") || strings.Contains(reply.FormattedBody, "<b>raw</b>") {
			t.Fatalf("formatted_body %q: want Markdown rendered and raw HTML escaped", reply.FormattedBody)
		}
	})

	t.Run("dangerous links and foreign images never reach formatted_body", func(t *testing.T) {
		reply := w.ask(`[x](javascript:alert(1)) ![i](https://example.org/a.png) <img src="https://example.org/b.png">`,
			func(m harness.Message) bool { return strings.HasPrefix(m.FinalBody, "echo: [x](javascript") })
		for _, bad := range []string{"javascript:", `src="https://example.org`, "<img src=\"https"} {
			if strings.Contains(reply.FormattedBody, bad) {
				t.Fatalf("formatted_body %q contains %q", reply.FormattedBody, bad)
			}
		}
	})

	t.Run("an agent ERROR becomes a notice and the next message works", func(t *testing.T) {
		w.ask("/error the model is down", func(m harness.Message) bool {
			return m.MsgType == event.MsgNotice && strings.Contains(m.FinalBody, "the model is down")
		})
		w.ask("still there?", func(m harness.Message) bool { return m.FinalBody == "echo: still there?" })
	})

	t.Run("commands are answered and reach no agent", func(t *testing.T) {
		before := len(w.stack.Agent.Received())
		help := w.ask("!help", func(m harness.Message) bool { return m.MsgType == event.MsgNotice })
		if !strings.Contains(help.FinalBody, "!help") {
			t.Fatalf("help reply %q", help.FinalBody)
		}
		w.ask("!frobnicate", func(m harness.Message) bool {
			return m.MsgType == event.MsgNotice && strings.Contains(m.FinalBody, "Unknown command")
		})
		// A message after the commands is answered; by then a command that
		// went to the agent would have reached it first (turns are in order).
		w.ask("after the commands", func(m harness.Message) bool { return m.FinalBody == "echo: after the commands" })
		var texts []string
		for _, r := range w.stack.Agent.Received()[before:] {
			texts = append(texts, r.Text)
		}
		if !slices.Equal(texts, []string{"after the commands"}) {
			t.Fatalf("the agent received %q since the commands, want only the message after them", texts)
		}
	})

	t.Run("readiness endpoint", func(t *testing.T) {
		resp, err := http.Get("http://" + w.stack.HTTPAddr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/readyz = %d", resp.StatusCode)
		}
	})

	t.Run("metrics count the turns and the agent's tokens", func(t *testing.T) {
		resp, err := http.Get("http://" + w.stack.HTTPAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`surfaces_agent_tokens_total{agent="agent-0"}`, `surfaces_turns_total{agent="agent-0",outcome="ok"}`,
			`surfaces_turns_total{agent="agent-0",outcome="failed"}`} {
			if !strings.Contains(string(body), want) {
				t.Fatalf("/metrics lacks %s", want)
			}
		}
	})

	t.Run("after a restart the room keeps its context and nothing is answered twice", func(t *testing.T) {
		chatIDs := map[string]bool{}
		for _, r := range w.stack.Agent.Received() {
			chatIDs[r.ChatID] = true
		}
		if len(chatIDs) != 1 {
			t.Fatalf("the room used chat ids %v before the restart, want one", chatIDs)
		}
		turnsBefore := len(w.stack.Agent.Received())
		botMsgsBefore := countFrom(w.alice.Messages(w.chat), w.stack.BotID)

		if err := w.stack.StopBot(); err != nil {
			t.Fatalf("bot did not stop cleanly: %v", err)
		}
		if err := w.stack.StartBot(w.ctx); err != nil {
			t.Fatal(err)
		}
		w.ask("after the restart", func(m harness.Message) bool { return m.FinalBody == "echo: after the restart" })
		// A second message is the positive signal that anything the restart
		// would have replayed (turns, replies) has happened by now.
		w.ask("and again", func(m harness.Message) bool { return m.FinalBody == "echo: and again" })

		received := w.stack.Agent.Received()
		var texts []string
		for _, r := range received[turnsBefore:] {
			texts = append(texts, r.Text)
			if !chatIDs[r.ChatID] {
				t.Fatalf("after the restart the room used chat id %s, want the same as before %v", r.ChatID, chatIDs)
			}
		}
		if want := []string{"after the restart", "and again"}; !slices.Equal(texts, want) {
			t.Fatalf("the agent received %q after the restart, want exactly %q", texts, want)
		}
		if got := countFrom(w.alice.Messages(w.chat), w.stack.BotID) - botMsgsBefore; got != 2 {
			t.Fatalf("the bot posted %d messages after the restart, want only the two new replies", got)
		}
	})
}

func TestCrashMidReplyIsReportedAfterRestart(t *testing.T) {
	inEachMode(t, func(t *testing.T, opts harness.StackOptions) {
		crashMidReplyIsReportedAfterRestart(t, newWorldWith(t, opts, "alice"))
	})
}

func crashMidReplyIsReportedAfterRestart(t *testing.T, w *world) {
	w.onboard()
	ctx, cancel := w.wait()
	defer cancel()
	if _, err := w.alice.SendText(ctx, w.chat, "/slow 40"); err != nil {
		t.Fatal(err)
	}
	// Once the reply is streaming, the bot dies.
	if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && m.MsgType == event.MsgText && strings.HasPrefix(m.FinalBody, "chunk 1")
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.stack.KillBot(); err != nil {
		t.Fatal(err)
	}
	turns := len(w.stack.Agent.Received())
	if err := w.stack.StartBot(w.ctx); err != nil {
		t.Fatal(err)
	}
	// Without the user writing again, the bot says what happened, once,
	// and replays nothing.
	cutReplyToldOnce(t, w, turns, "are you back?")

	// Killed while idle: nothing is answered again after the next start.
	if err := w.stack.KillBot(); err != nil {
		t.Fatal(err)
	}
	if err := w.stack.StartBot(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.ask("and now?", func(m harness.Message) bool { return m.FinalBody == "echo: and now?" })
	answers := 0
	for _, m := range w.alice.Messages(w.chat) {
		if m.Sender == w.stack.BotID && m.FinalBody == "echo: are you back?" {
			answers++
		}
	}
	if answers != 1 {
		t.Fatalf("\"are you back?\" got %d answers across an idle kill, want 1", answers)
	}
}

// A reply still running when shutdown.grace is over is cut, and its user
// is told at once (PRODUCT R8.4); the bot still exits cleanly.
func TestGraceOverTellsTheUser(t *testing.T) {
	w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"}, BotEnv: []string{"SURFACES_SHUTDOWN_GRACE=1s"}}, "alice")
	w.onboard()
	ctx, cancel := w.wait()
	defer cancel()
	if _, err := w.alice.SendText(ctx, w.chat, "/slow 60"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && m.MsgType == event.MsgText && strings.HasPrefix(m.FinalBody, "chunk 1")
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.stack.StopBot(); err != nil {
		t.Fatalf("the bot did not stop cleanly: %v", err)
	}
	if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && strings.Contains(m.FinalBody, "had to cut this reply short")
	}); err != nil {
		t.Fatalf("the user was not told the reply was cut: %v", err)
	}
}

// cutReplyNotice is the start of the notice of a reply a restart cut off.
const cutReplyNotice = "I restarted while answering"

// cutReplyToldOnce checks what a user sees after the bot (or the member of a
// cluster that took over) started again while a reply was streaming: the
// notice of the cut reply, without writing again; then next is answered,
// and the agent got nothing since turns but next (the cut turn is not
// replayed); and the chat holds exactly one such notice.
func cutReplyToldOnce(t *testing.T, w *world, turns int, next string) {
	t.Helper()
	ctx, cancel := w.wait()
	defer cancel()
	if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && m.MsgType == event.MsgNotice && strings.Contains(m.FinalBody, cutReplyNotice)
	}); err != nil {
		t.Fatalf("no notice of the cut reply: %v", err)
	}
	// Its reply is the positive signal that a replay of the cut turn would
	// have reached the agent by now.
	w.ask(next, func(m harness.Message) bool { return m.FinalBody == "echo: "+next })
	var texts []string
	for _, r := range w.stack.Agent.Received()[turns:] {
		texts = append(texts, r.Text)
	}
	if !slices.Equal(texts, []string{next}) {
		t.Fatalf("after the restart the agent received %q, want only %q (no replay of the cut turn)", texts, next)
	}
	if n := cutReplyNotices(w); n != 1 {
		t.Fatalf("%d notices of a cut reply, want exactly one", n)
	}
}

// cutReplyNotices counts the bot's notices of a cut reply in the chat.
func cutReplyNotices(w *world) int {
	n := 0
	for _, m := range w.alice.Messages(w.chat) {
		if m.Sender == w.stack.BotID && strings.Contains(m.FinalBody, cutReplyNotice) {
			n++
		}
	}
	return n
}

func countFrom(msgs []harness.Message, sender id.UserID) int {
	n := 0
	for _, m := range msgs {
		if m.Sender == sender {
			n++
		}
	}
	return n
}

// A SIGTERM while a reply streams lets it finish (PRODUCT R8.4): the reply
// is complete, and after the restart nothing is reported as cut off. The
// messages queued behind it are not lost (R3.2, R7.2): the next start
// answers them, in order, once each.
func TestGracefulStopLetsARunningReplyFinish(t *testing.T) {
	inEachMode(t, func(t *testing.T, opts harness.StackOptions) {
		gracefulStopLetsARunningReplyFinish(t, newWorldWith(t, opts, "alice"))
	})
}

func gracefulStopLetsARunningReplyFinish(t *testing.T, w *world) {
	w.onboard()
	ctx, cancel := w.wait()
	defer cancel()
	sent, err := w.alice.SendText(ctx, w.chat, "/slow 8")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && m.MsgType == event.MsgText && strings.HasPrefix(m.FinalBody, "chunk 1")
	}); err != nil {
		t.Fatal(err)
	}
	var queued []id.EventID
	for _, text := range []string{"queued one", "queued two"} {
		evID, err := w.alice.SendText(ctx, w.chat, text)
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, evID)
	}
	// Both wait behind the running reply when the stop comes.
	inQueue := regexp.MustCompile(`"event_id":"` + regexp.QuoteMeta(queued[1].String()) + `".*"message":"message queued"`)
	if _, err := w.stack.Bot.WaitForLine(ctx, inQueue); err != nil {
		t.Fatalf("the second message was not queued: %v", err)
	}
	if err := w.stack.StopBot(); err != nil {
		t.Fatalf("the bot did not stop cleanly: %v", err)
	}
	want := ""
	for i := 1; i <= 8; i++ {
		want += "chunk " + strconv.Itoa(i) + " "
	}
	reply, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && m.MsgType == event.MsgText && afterEvent(w, w.chat, sent, m) && m.FinalBody == want
	})
	if err != nil {
		t.Fatalf("the running reply was not completed before the bot stopped: %v", err)
	}
	if err := w.stack.StartBot(w.ctx); err != nil {
		t.Fatal(err)
	}
	// The queued messages are answered without the user writing again.
	if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && m.FinalBody == "echo: queued two"
	}); err != nil {
		t.Fatalf("the queued messages were not answered after the restart: %v", err)
	}
	w.ask("are you back?", func(m harness.Message) bool { return m.FinalBody == "echo: are you back?" })
	var echoes []string
	for _, m := range w.alice.Messages(w.chat) {
		if m.Sender == w.stack.BotID && strings.Contains(m.FinalBody, "restarted while answering") {
			t.Fatalf("a finished reply (%s) was reported as cut off: %q", reply.EventID, m.FinalBody)
		}
		if m.Sender == w.stack.BotID && strings.HasPrefix(m.FinalBody, "echo: queued") {
			echoes = append(echoes, m.FinalBody)
		}
	}
	if want := []string{"echo: queued one", "echo: queued two"}; !slices.Equal(echoes, want) {
		t.Fatalf("the queued messages were answered as %q, want %q", echoes, want)
	}
}

// Messages sent while a turn runs get the bot's read receipt only when their
// own turn starts (PRODUCT R3.9): the user sees what was picked up.
func TestReadReceiptsShowWhatWasPickedUp(t *testing.T) {
	inEachMode(t, func(t *testing.T, opts harness.StackOptions) {
		readReceiptsShowWhatWasPickedUp(t, newWorldWith(t, opts, "alice"))
	})
}

func readReceiptsShowWhatWasPickedUp(t *testing.T, w *world) {
	w.onboard()
	ctx, cancel := w.wait()
	defer cancel()
	slow, err := w.alice.SendText(ctx, w.chat, "/slow 8")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.alice.WaitReceipt(ctx, w.chat, w.stack.BotID, slow); err != nil {
		t.Fatalf("the running message was not marked read: %v", err)
	}
	var waiting []id.EventID
	for _, text := range []string{"q1", "q2", "q3"} {
		id, err := w.alice.SendText(ctx, w.chat, text)
		if err != nil {
			t.Fatal(err)
		}
		waiting = append(waiting, id)
	}
	// While the slow reply streams, a later chunk arriving is the positive
	// signal that the bot had every chance to mark the waiting ones read.
	if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && strings.HasPrefix(m.FinalBody, "chunk 1 chunk 2 chunk 3 chunk 4")
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range w.alice.Receipts(w.chat) {
		if r.UserID == w.stack.BotID && slices.Contains(waiting, r.EventID) {
			t.Fatalf("%s was marked read while it still waited behind the running turn", r.EventID)
		}
	}
	// Each gets its receipt once its turn starts; the last one is enough to
	// wait for, as the server may merge receipts that come close together.
	if err := w.alice.WaitReceipt(ctx, w.chat, w.stack.BotID, waiting[2]); err != nil {
		t.Fatalf("the last waiting message was never marked read: %v", err)
	}
	w.ask("done?", func(m harness.Message) bool { return m.FinalBody == "echo: done?" })
	botKeepsNoNotifications(t, w)
}

// botKeepsNoNotifications checks that the homeserver stored no push
// notification for the bot of its users' messages: the bot turned its own
// notifications off (matrix.SilenceOwnNotifications), which spares the
// homeserver a write or more between each message and its reply.
func botKeepsNoNotifications(t *testing.T, w *world) {
	t.Helper()
	ctx, cancel := w.wait()
	defer cancel()
	bot, err := w.stack.BotAccount(ctx, t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	var notes struct {
		Notifications []json.RawMessage `json:"notifications"`
	}
	if _, err := bot.MakeRequest(ctx, http.MethodGet, bot.BuildClientURL("v3", "notifications"), nil, &notes); err != nil {
		t.Fatalf("read the bot's notifications: %v", err)
	}
	if n := len(notes.Notifications); n > 0 {
		t.Fatalf("the homeserver keeps %d notifications for the bot, want none: %s", n, notes.Notifications[0])
	}
	var rule struct {
		Enabled bool `json:"enabled"`
	}
	if _, err := bot.MakeRequest(ctx, http.MethodGet, bot.BuildClientURL("v3", "pushrules", "global", "override", ".m.rule.master", "enabled"), nil, &rule); err != nil {
		t.Fatalf("read the bot's master push rule: %v", err)
	}
	if !rule.Enabled {
		t.Fatal("the bot's master push rule is off: the homeserver notifies the bot of every message")
	}
}

// An answer that took longer than streaming.notify_after arrives as a new
// m.text message (which a default push-rule set notifies on) whose body is
// the answer; its streamed preview becomes a pointer, so the text is in the
// timeline once. A short answer that streams stays one message with its
// edits.
func TestLongAnswerArrivesAsANewMessage(t *testing.T) {
	w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"},
		BotEnv: []string{"SURFACES_STREAMING_NOTIFY_AFTER=2s"}}, "alice")
	w.onboard()
	want := ""
	for i := 1; i <= 8; i++ {
		want += "chunk " + strconv.Itoa(i) + " "
	}
	final := w.ask("/slow 8", func(m harness.Message) bool {
		return m.MsgType == event.MsgText && strings.TrimSpace(m.FinalBody) == strings.TrimSpace(want)
	})
	if final.Edits != 0 {
		t.Fatalf("the final answer was edited %d times; want it sent whole as a new message", final.Edits)
	}
	var previews int
	for _, m := range w.alice.Messages(w.chat) {
		if m.Sender != w.stack.BotID || m.EventID == final.EventID || !strings.HasPrefix(m.Body, "chunk 1") {
			continue
		}
		previews++
		if !strings.Contains(m.FinalBody, "answer is below") {
			t.Fatalf("the preview still shows %q, want a pointer to the answer", m.FinalBody)
		}
	}
	if previews != 1 {
		t.Fatalf("%d previews, want one", previews)
	}
	short := w.ask("/slow 2", func(m harness.Message) bool {
		return m.MsgType == event.MsgText && strings.TrimSpace(m.FinalBody) == "chunk 1 chunk 2"
	})
	if !short.IsEdited() {
		t.Fatal("a short answer that streams should be one message with edits")
	}
}

// A 200 KiB answer arrives as consecutive messages, none refused by the
// homeserver, whose texts join to exactly what the agent sent (PRODUCT R3.4).
func TestBigAnswerIsSplitIntoConsecutiveMessages(t *testing.T) {
	w := newWorld(t)
	w.onboard()
	want := refagent.BigText(200)
	ctx, cancel := w.wait()
	defer cancel()
	sent, err := w.alice.SendText(ctx, w.chat, "/big 200")
	if err != nil {
		t.Fatal(err)
	}
	lastLine := want[strings.LastIndex(want, "\n")+1:]
	if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && m.MsgType == event.MsgText && strings.HasSuffix(m.FinalBody, lastLine)
	}); err != nil {
		t.Fatalf("the end of the answer never arrived: %v", err)
	}
	var parts []string
	for _, m := range w.alice.Messages(w.chat) {
		if m.Sender == w.stack.BotID && m.MsgType == event.MsgText && afterEvent(w, w.chat, sent, m) {
			parts = append(parts, m.FinalBody)
		}
	}
	if len(parts) < 2 {
		t.Fatalf("%d messages, want the answer split", len(parts))
	}
	if got := strings.Join(parts, "\n"); got != want {
		t.Fatalf("the %d parts join to %d bytes, want the agent's %d bytes exactly", len(parts), len(got), len(want))
	}
}
