package actors_test

import (
	"strconv"
	"testing"
	"testing/synctest"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// onboardUser invites the bot as userID and returns the user's first chat.
func (tt *testTree) onboardUser(userID string) actors.RoomRecord {
	tt.t.Helper()
	m := tt.mark()
	tt.send(&actors.InviteReceived{RoomID: "!dm-" + userID, Inviter: userID, IsDirect: true})
	tt.waitCall(m, "SendNotice", "!dm-"+userID, "I made you a Space")
	synctest.Wait()
	return tt.rooms(userID)[0]
}

// No platform_chat_id is handed out before it is reserved in the bot's
// account data, so a new state directory continues above every id ever
// handed out: one user's new chat can never continue another's
// conversation (PRODUCT R11).
func TestChatIDsAreReservedBeforeTheyAreHandedOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		first := tt.onboardUser(alice)
		n, _ := strconv.ParseUint(first.PlatformChatID, 10, 64)
		if reserved := tt.Matrix.Reserved(); reserved < n {
			t.Fatalf("platform_chat_id %d handed out with only %d reserved", n, reserved)
		}

		// The state directory is lost: a new store, the same homeserver.
		reserved := tt.Matrix.Reserved()
		tt.Store = actortest.NewStore()
		tt.restart()
		second := tt.onboardUser(bob)
		m, _ := strconv.ParseUint(second.PlatformChatID, 10, 64)
		if m <= reserved {
			t.Fatalf("after losing the disk the next platform_chat_id is %d, want one above every reserved id (%d)", m, reserved)
		}
	})
}

// Every chat room carries the bot's own state event from its creation on,
// and the event follows every change of what serves the room.
func TestTheRoomStateEventFollowsTheRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		chat := tt.onboardUser(alice)
		state := func() actors.ChatState {
			t.Helper()
			synctest.Wait()
			st, ok := tt.Matrix.State(chat.RoomID)
			if !ok || st.Chat == nil {
				t.Fatalf("room %s has no chat state", chat.RoomID)
			}
			return *st.Chat
		}
		if st := state(); st.Owner != alice || st.PlatformChatID != chat.PlatformChatID || st.ChatIndex != 1 || st.AgentID != chat.AgentID || st.SpaceID != chat.SpaceID {
			t.Fatalf("state at creation %+v, want it to describe %+v", st, chat)
		}
		if sp, ok := tt.Matrix.State(chat.SpaceID); !ok || sp.Space == nil || sp.Space.Owner != alice || sp.Space.ChatCounter != 1 {
			t.Fatalf("Space state %+v, want alice's with one chat", sp.Space)
		}

		m := tt.mark()
		tt.say(alice, chat.RoomID, "!clear")
		tt.waitCall(m, "SendNotice", chat.RoomID, "Fresh start")
		synctest.Wait()
		rec := tt.rooms(alice)[0]
		if st := state(); st.PlatformChatID != rec.PlatformChatID || st.PlatformChatID == chat.PlatformChatID {
			t.Fatalf("after !clear the state holds %s, the record %s (was %s)", st.PlatformChatID, rec.PlatformChatID, chat.PlatformChatID)
		}
		m = tt.mark()
		tt.say(alice, chat.RoomID, "!rename Trips")
		tt.waitCall(m, "SendNotice", chat.RoomID, "Trips")
		if st := state(); st.Name != "Trips" {
			t.Fatalf("after !rename the state names %q", st.Name)
		}
		m = tt.mark()
		tt.say(alice, chat.RoomID, "!archive")
		tt.waitCall(m, "SendNotice", chat.RoomID, "archived")
		if st := state(); !st.Archived {
			t.Fatal("after !archive the state is not archived")
		}
	})
}
