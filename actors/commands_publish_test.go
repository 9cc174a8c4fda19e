package actors_test

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/surfaces-bot/surfaces/actors"
)

// Chat rooms describe every command (MSC4391) from their creation on (in
// the initial state, not a request per command) and are not asked again;
// the entry room describes the user's commands.
func TestCommandDescriptionsArePublished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		m := tt.mark()
		tt.send(&actors.InviteReceived{RoomID: "!dm", Inviter: alice, IsDirect: true})
		tt.waitCall(m, "SendNotice", "!dm", "I made you a Space")
		chat := tt.rooms(alice)[0].RoomID
		tt.say(alice, chat, "!help") // starts the room actor
		synctest.Wait()
		for _, c := range tt.Matrix.Calls("SetCommands") {
			if c.RoomID == chat {
				t.Fatalf("the chat room was asked to describe its commands after its creation: %v", c.UserIDs)
			}
		}
		if got := tt.Matrix.Commands("!dm"); !slices.Equal(got, []string{"new", "chats", "help"}) {
			t.Fatalf("entry room commands %q, want the user's", got)
		}
		if got := tt.Matrix.Commands(chat); !slices.Contains(got, "stop") || !slices.Contains(got, "rename") || len(got) < 10 {
			t.Fatalf("chat room commands %q, want all, !stop included", got)
		}
		r, _ := tt.Store.GetRoom(context.Background(), chat)
		if r.CommandsVersion == "" {
			t.Fatal("the published version was not recorded")
		}
	})
}

// A room whose published descriptions are out of date (older command set or
// locale) publishes them again when its actor starts.
func TestOutdatedCommandDescriptionsAreRepublished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newSeededTree(t, actors.Options{}, func(tt *testTree) {
			r := tt.AddRoom(alice, "!r", "101")
			r.CommandsVersion = "an older set"
			if err := tt.Store.PutRoom(t.Context(), r); err != nil {
				t.Fatal(err)
			}
		})
		m := tt.mark()
		tt.say(alice, "!r", "!context")
		tt.waitCall(m, "SetCommands", "!r", "")
		synctest.Wait()
		if r, _ := tt.Store.GetRoom(context.Background(), "!r"); r.CommandsVersion == "an older set" {
			t.Fatal("the new version was not recorded")
		}
	})
}
