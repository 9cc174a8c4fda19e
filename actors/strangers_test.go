package actors_test

import (
	"net/url"
	"testing"
	"testing/synctest"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// A message or reaction from someone with no rooms here costs no actor; the
// bot's users and people who invite it still get theirs.
func TestStrangersGetNoActor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newSeededTree(t, actors.Options{}, func(tt *testTree) { tt.addRoom(alice, "!r", "101") })
		userActor := func(userID string) bool {
			_, ok := tt.System.ProcessRegistry.GetLocal(actors.RootName + "/user-" + url.PathEscape(userID))
			return ok
		}
		tt.say("@stranger:example.test", "!r", "hello?")
		tt.send(&actors.ReactionReceived{RoomID: "!r", EventID: "$x", Sender: "@stranger2:example.test", RelatesTo: "$y", Key: "👍"})
		m := tt.mark()
		tt.say(alice, "!r", "!help")
		tt.waitCall(m, "SendNotice", "!r", "Commands:")
		synctest.Wait()
		if userActor("@stranger:example.test") || userActor("@stranger2:example.test") {
			t.Fatal("a stranger got a user actor")
		}
		if !userActor(alice) {
			t.Fatal("the room's owner has no user actor")
		}
		// Inviting the bot is how a stranger becomes a user.
		tt.send(&actors.InviteReceived{RoomID: "!dm-bob", Inviter: bob, IsDirect: true})
		tt.waitCall(m, "SendNotice", "!dm-bob", "I made you a Space")
		if !userActor(bob) {
			t.Fatal("an inviter has no user actor")
		}
	})
}

// A user whose record was written after the root started (restored state)
// is found on their first message, and their messages keep their order.
func TestASenderWithALateRecordIsServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		synctest.Wait() // the root has loaded its (empty) user list
		tt.addRoom(alice, "!r", "101")
		tt.say(alice, "!r", "first")
		tt.say(alice, "!r", "second")
		conn := tt.conn()
		for _, want := range []string{"first", "second"} {
			turn := tt.turn(conn)
			if turn.Msg.Text != want {
				t.Fatalf("got %q, want %q", turn.Msg.Text, want)
			}
			turn.Emit(actortest.End(0))
		}
	})
}
