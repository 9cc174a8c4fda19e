package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// isNotice matches a bot notice containing substr.
func isNotice(substr string) func(harness.Message) bool {
	return func(m harness.Message) bool {
		return m.MsgType == event.MsgNotice && strings.Contains(m.FinalBody, substr)
	}
}

// chatIDOf asks the agent in room and returns the platform_chat_id the
// reference agent received the turn at.
func (w *world) chatIDOf(room id.RoomID, text string) string {
	w.t.Helper()
	w.askIn(room, text, func(m harness.Message) bool { return m.FinalBody == "echo: "+text })
	return agentChatID(w.t, w, text)
}

// children lists the Space's children as the user sees them.
func (w *world) children() []harness.SpaceChild {
	w.t.Helper()
	ctx, cancel := w.wait()
	defer cancel()
	children, err := w.alice.SpaceChildren(ctx, w.space)
	if err != nil {
		w.t.Fatal(err)
	}
	return children
}

func TestWorkspaceCommands(t *testing.T) {
	inEachMode(t, func(t *testing.T, opts harness.StackOptions) {
		workspaceCommands(t, newWorldWith(t, opts, "alice"))
	})
}

func workspaceCommands(t *testing.T, w *world) {
	w.onboard()
	chat1ID := w.chatIDOf(w.chat, "hello from chat 1")

	var chat2 id.RoomID
	t.Run("!new makes Chat 2 in the Space with its own conversation", func(t *testing.T) {
		w.t = t
		created := w.ask("!new", isNotice("**Chat 2**"))
		ctx, cancel := w.wait()
		defer cancel()
		inv, err := w.alice.WaitInvite(ctx, func(inv harness.Invite) bool {
			return inv.Sender == w.stack.BotID && inv.Name() == "Chat 2"
		})
		if err != nil {
			t.Fatalf("no invite to Chat 2: %v", err)
		}
		chat2 = inv.RoomID
		if !strings.Contains(created.FinalBody, string(chat2)) {
			t.Fatalf("notice %q does not link to %s", created.FinalBody, chat2)
		}
		if err := w.alice.WaitJoined(ctx, chat2); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range w.children() {
			found = found || (c.RoomID == chat2 && c.Name == "Chat 2")
		}
		if !found {
			t.Fatalf("Chat 2 is not a child of the Space: %+v", w.children())
		}
		if id2 := w.chatIDOf(chat2, "hello from chat 2"); id2 == chat1ID || id2 == "" {
			t.Fatalf("Chat 2 talks at platform_chat_id %q, Chat 1 at %q: want different", id2, chat1ID)
		}
	})

	t.Run("!clear gives the next message a new platform_chat_id", func(t *testing.T) {
		w.t = t
		w.ask("!clear", isNotice("Fresh start"))
		if after := w.chatIDOf(w.chat, "after clear"); after == chat1ID {
			t.Fatalf("after !clear the room still talks at %s", after)
		}
	})

	t.Run("!save, !clear, !load 1 continue the saved conversation", func(t *testing.T) {
		w.t = t
		saved := w.chatIDOf(w.chat, "before saving")
		w.ask("!save Trip", isNotice("**Trip**"))
		w.ask("!clear", isNotice("Fresh start"))
		if other := w.chatIDOf(w.chat, "in between"); other == saved {
			t.Fatalf("!clear kept %s", saved)
		}
		w.ask("!load", isNotice("1. **Trip**"))
		w.ask("!load 1", isNotice("continues **Trip**"))
		if again := w.chatIDOf(w.chat, "back to the trip"); again != saved {
			t.Fatalf("after !load 1 the agent got platform_chat_id %s, want the saved %s", again, saved)
		}
	})

	t.Run("a 👍 reaction answers a confirmation request left open past the idle timeout", func(t *testing.T) {
		w.t = t
		ask := w.ask("/confirm Delete the draft?", isNotice("Delete the draft?"))
		ctx, cancel := w.wait()
		defer cancel()
		// The bot offers both answers under its question.
		for _, key := range []string{"👍", "👎"} {
			if _, err := w.alice.WaitEvent(ctx, w.chat, func(e *event.Event) bool {
				if e.Type != event.EventReaction || e.Sender != w.stack.BotID {
					return false
				}
				_ = e.Content.ParseRaw(e.Type)
				rel := e.Content.AsReaction().RelatesTo
				return rel.EventID == ask.EventID && rel.Key == key
			}); err != nil {
				t.Fatalf("the bot did not offer %s: %v", key, err)
			}
		}
		// The person takes longer than the turn's idle timeout (5 s here)
		// to answer: the wait is real time on purpose, because an idle
		// timer that was not paused shows only by firing.
		time.Sleep(7 * time.Second)
		if _, err := w.alice.React(ctx, w.chat, ask.EventID, "👍️"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
			return m.Sender == w.stack.BotID && m.FinalBody == "approved"
		}); err != nil {
			t.Fatalf("the agent never got the approval: %v", err)
		}
	})

	t.Run("!retry sends a failed message again", func(t *testing.T) {
		w.t = t
		w.ask("!retry", isNotice("nothing to retry"))
		w.ask("/flaky one more time", isNotice("Send `!retry` to try again."))
		w.ask("!retry", func(m harness.Message) bool { return m.FinalBody == "echo: /flaky one more time" })
		w.ask("!retry", isNotice("nothing to retry"))
	})

	t.Run("!rename changes the room name", func(t *testing.T) {
		w.t = t
		w.ask("!rename Road trip 🚗", isNotice("**Road trip 🚗**"))
		ctx, cancel := w.wait()
		defer cancel()
		state, err := w.alice.RoomState(ctx, w.chat)
		if err != nil {
			t.Fatal(err)
		}
		name := state[event.StateRoomName][""]
		if name == nil || name.Content.AsRoomName().Name != "Road trip 🚗" {
			t.Fatalf("m.room.name is %+v, want Road trip 🚗", name)
		}
	})

	t.Run("the room describes its commands for clients (MSC4391)", func(t *testing.T) {
		w.t = t
		ctx, cancel := w.wait()
		defer cancel()
		state, err := w.alice.RoomState(ctx, w.chat)
		if err != nil {
			t.Fatal(err)
		}
		var commands []string
		for _, e := range state[event.StateMSC4391BotCommand] {
			if e.Sender == w.stack.BotID {
				if cmd, ok := e.Content.Raw["command"].(string); ok {
					commands = append(commands, cmd)
				}
			}
		}
		for _, want := range []string{"stop", "new", "retry", "help"} {
			if !slices.Contains(commands, want) {
				t.Fatalf("the room describes %q, want %q among them", commands, want)
			}
		}
	})

	t.Run("!chats lists exactly the active chats", func(t *testing.T) {
		w.t = t
		list := w.ask("!chats", isNotice("Your chats:"))
		for _, want := range []string{"Road trip 🚗", string(w.chat), "Chat 2", string(chat2)} {
			if !strings.Contains(list.FinalBody, want) {
				t.Fatalf("!chats %q lacks %q", list.FinalBody, want)
			}
		}
	})

	t.Run("inviting the bot again creates no second Space", func(t *testing.T) {
		w.t = t
		ctx, cancel := w.wait()
		defer cancel()
		before := len(w.alice.Invites())
		dm, err := w.alice.CreateDM(ctx, w.stack.BotID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.alice.WaitMessage(ctx, dm, func(m harness.Message) bool {
			return m.Sender == w.stack.BotID && strings.Contains(m.FinalBody, "You already have a Space")
		}); err != nil {
			t.Fatalf("no 'already have a Space' answer: %v", err)
		}
		for _, inv := range w.alice.Invites()[before:] {
			if inv.Sender == w.stack.BotID && inv.RoomType() == event.RoomTypeSpace && inv.RoomID != w.space {
				t.Fatalf("a second Space was created: %s", inv.RoomID)
			}
		}
		if n := len(w.children()); n != 2 {
			t.Fatalf("the Space has %d children, want Chat 1 and Chat 2 only", n)
		}
	})

	t.Run("!archive takes Chat 2 out of the Space and the bot leaves", func(t *testing.T) {
		w.t = t
		w.askIn(chat2, "!archive", isNotice("archived"))
		ctx, cancel := w.wait()
		defer cancel()
		if _, err := w.alice.WaitEvent(ctx, chat2, func(e *event.Event) bool {
			return e.Type == event.StateMember && e.GetStateKey() == string(w.stack.BotID) &&
				e.Content.AsMember().Membership == event.MembershipLeave
		}); err != nil {
			t.Fatalf("the bot did not leave the archived chat: %v", err)
		}
		for _, c := range w.children() {
			if c.RoomID == chat2 {
				t.Fatalf("the archived chat is still a child of the Space: %+v", c)
			}
		}
		list := w.ask("!chats", isNotice("Your chats:"))
		if strings.Contains(list.FinalBody, string(chat2)) {
			t.Fatalf("!chats still lists the archived chat: %q", list.FinalBody)
		}
	})
}
