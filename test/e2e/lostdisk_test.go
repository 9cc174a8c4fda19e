package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// The state directory is lost while the bot is stopped (PRODUCT R7.3, R11):
// on the next start the bot rebuilds its records from the state events it
// keeps on the homeserver. No Space or room is made again, every room
// talks to the agent at its old platform_chat_id (the agent's memory goes
// on), a !clear-ed chat at its latest one, and a new user's first chat
// gets an id no agent has seen.
func TestLostStateDirectory(t *testing.T) {
	w := newWorldWith(t, harness.StackOptions{Users: []string{"alice", "bob"}}, "alice")
	w.onboard()
	chat1ID := w.chatIDOf(w.chat, "hello from chat 1")

	// The user cannot forge the bot's description of the room.
	ctx0, cancel0 := w.wait()
	forged := event.Type{Type: "org.surfaces.chat", Class: event.StateEventType}
	_, err := w.alice.Client().SendStateEvent(ctx0, w.chat, forged, "", map[string]any{"owner": "@alice:localhost", "platform_chat_id": "1"})
	cancel0()
	if !errors.Is(err, mautrix.MForbidden) {
		t.Fatalf("alice sent the bot's state event: %v, want M_FORBIDDEN", err)
	}

	w.ask("!new", isNotice("**Chat 2**"))
	ctx, cancel := w.wait()
	defer cancel()
	var inv harness.Invite
	inv, err = w.alice.WaitInvite(ctx, func(inv harness.Invite) bool {
		return inv.Sender == w.stack.BotID && inv.Name() == "Chat 2"
	})
	if err != nil {
		t.Fatalf("no invite to Chat 2: %v", err)
	}
	chat2 := inv.RoomID
	if err := w.alice.WaitJoined(ctx, chat2); err != nil {
		t.Fatal(err)
	}
	first2 := w.chatIDOf(chat2, "hello from chat 2")
	w.askIn(chat2, "!clear", isNotice("Fresh start"))
	cleared := w.chatIDOf(chat2, "after the clear")
	if cleared == first2 {
		t.Fatalf("!clear kept %s", cleared)
	}
	children := w.children()
	var highest uint64
	for _, r := range w.stack.Agent.Received() {
		n, _ := strconv.ParseUint(r.ChatID, 10, 64)
		highest = max(highest, n)
	}

	if err := w.stack.StopBot(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(w.stack.Dir(), "state")); err != nil {
		t.Fatal(err)
	}
	if err := w.stack.StartBot(w.ctx); err != nil {
		t.Fatal(err)
	}

	if got := w.chatIDOf(w.chat, "chat 1 after the loss"); got != chat1ID {
		t.Fatalf("after losing the disk Chat 1 talks at platform_chat_id %s, want its old %s", got, chat1ID)
	}
	if got := w.chatIDOf(chat2, "chat 2 after the loss"); got != cleared {
		t.Fatalf("after losing the disk the cleared Chat 2 talks at %s, want its latest %s", got, cleared)
	}
	if after := w.children(); !sameChildren(after, children) {
		t.Fatalf("the Space changed: %+v, was %+v", after, children)
	}

	bob, err := w.stack.Login(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	bob.AcceptInvites(true)
	_, bobChat := onboard(ctx, t, w.stack.BotID, bob)
	if t.Failed() {
		t.FailNow()
	}
	if _, err := bob.SendText(ctx, bobChat, "bob's first words"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WaitMessage(ctx, bobChat, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && m.FinalBody == "echo: bob's first words"
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range w.stack.Agent.Received() {
		if r.Text == "bob's first words" {
			if n, _ := strconv.ParseUint(r.ChatID, 10, 64); n <= highest {
				t.Fatalf("bob's first chat got platform_chat_id %s, an agent already saw ids up to %d", r.ChatID, highest)
			}
		}
	}
	// Nothing was created for alice: she was invited to no new room.
	for _, inv := range w.alice.Invites() {
		if inv.Sender == w.stack.BotID && inv.RoomID != w.space && inv.RoomID != w.chat && inv.RoomID != chat2 {
			t.Errorf("alice was invited to %s (%q) after the loss", inv.RoomID, inv.Name())
		}
	}
}

func sameChildren(a, b []harness.SpaceChild) bool {
	ids := func(cs []harness.SpaceChild) []id.RoomID {
		var out []id.RoomID
		for _, c := range cs {
			out = append(out, c.RoomID)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(ids(a), ids(b))
}
