package actors_test

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/reconcile"
)

// A cluster member that takes the ingress over (Options.TookOver) trusts
// the records the member before it kept in the shared database: start-up
// reconciliation reads only the joined rooms no chat record names and the
// users' Spaces, and still recovers a chat that member made but did not
// record or list before it died, keeping the user in their recorded Space
// beside a second one. A start without it reads every room and repairs a
// record older than its room's state event too.
func TestTakeoverReadsOnlyUnrecordedRooms(t *testing.T) {
	space, space2, dm := "!space-"+alice, "!space-2", "!dm-"+alice
	tests := []struct {
		name     string
		tookOver bool
		// wantReads are the rooms whose state is read, sorted.
		wantReads []string
		// wantRepaired: the recorded chat takes its newer state's name.
		wantRepaired bool
	}{
		{"a start", false, []string{dm, "!orphan", "!r1", space, space2}, true},
		{"a takeover", true, []string{"!orphan", space, space2}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				recorded := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
				tt := newSeededTree(t, actors.Options{TookOver: tc.tookOver}, func(tt *testTree) {
					r := tt.AddRoom(alice, "!r1", "1")
					r.UpdatedAt = recorded
					if err := tt.Store.PutRoom(t.Context(), r); err != nil {
						t.Fatal(err)
					}
					// The homeserver: the recorded chat, renamed after its
					// record was written; a chat with no record (its
					// holder died between making, recording and listing
					// it); the Space listing the recorded one, a second
					// Space of alice's listing none, and the entry room.
					renamed := actors.ChatStateOf(r)
					renamed.Name, renamed.UpdatedAt = "Renamed", recorded.Add(time.Hour)
					tt.Matrix.SetRoomState("!r1", actors.RoomState{Chat: &renamed, Members: map[string]string{alice: "join"}})
					tt.Matrix.SetRoomState("!orphan", actors.RoomState{Chat: &actors.ChatState{
						Owner: alice, SpaceID: space, ChatIndex: 2, Name: "Chat 2", PlatformChatID: "9",
						AgentID: actortest.AgentID, UpdatedAt: recorded,
					}, Members: map[string]string{alice: "join"}})
					u, err := tt.Store.GetUser(t.Context(), alice)
					if err != nil {
						t.Fatal(err)
					}
					st := actors.SpaceStateOf(u)
					tt.Matrix.SetRoomState(space, actors.RoomState{Space: &st, Children: []string{"!r1"}})
					st2 := st
					st2.UpdatedAt = recorded.Add(2 * time.Hour)
					tt.Matrix.SetRoomState(space2, actors.RoomState{Space: &st2})
					tt.Matrix.SetRoomState(dm, actors.RoomState{Members: map[string]string{alice: "join"}})
					tt.reconciled = make(chan *reconcile.Reconciled, 1)
				})
				var done *reconcile.Reconciled
				select {
				case done = <-tt.reconciled:
				case <-time.After(time.Minute):
					t.Fatal("start-up reconciliation did not end")
				}
				if got := tt.Matrix.StateReads(); !slices.Equal(got, slices.Sorted(slices.Values(tc.wantReads))) {
					t.Fatalf("read the state of %v, want %v", got, tc.wantReads)
				}
				if done.Report.Joined != 5 || done.Report.Rooms != len(tc.wantReads) || done.Report.RecoveredRooms != 1 {
					t.Fatalf("report %+v: want 5 rooms joined, %d read, 1 recovered", done.Report, len(tc.wantReads))
				}
				if u, err := tt.Store.GetUser(t.Context(), alice); err != nil || u.SpaceID != space {
					t.Fatalf("alice's record %+v (%v), want her recorded Space %s kept", u, err, space)
				}
				if !slices.ContainsFunc(tt.Matrix.Calls("AddToSpace"), func(c actortest.Call) bool {
					return c.RoomID == space && c.EventID == "!orphan"
				}) {
					t.Fatalf("the recovered chat was not listed in alice's Space: %+v", tt.Matrix.Calls("AddToSpace"))
				}
				orphan, err := tt.Store.GetRoom(t.Context(), "!orphan")
				if err != nil || orphan.OwnerID != alice || orphan.PlatformChatID != "9" {
					t.Fatalf("the unrecorded chat's record %+v (%v), want it recovered", orphan, err)
				}
				r1, err := tt.Store.GetRoom(t.Context(), "!r1")
				if err != nil {
					t.Fatal(err)
				}
				if repaired := r1.Name == "Renamed"; repaired != tc.wantRepaired {
					t.Fatalf("the recorded chat is named %q after the start, want it repaired %t", r1.Name, tc.wantRepaired)
				}
			})
		})
	}
}
