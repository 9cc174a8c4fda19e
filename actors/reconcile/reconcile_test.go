package reconcile

import (
	"cmp"
	"context"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
)

// TestLoadedAfterIsWhatTheStoreHolds: the users and interrupted rooms
// worked out from what reconciliation read and wrote are the ones a second
// listing of the store finds (loadUsers), repaired owners, recovered users
// with rooms of their own and archived rooms included.
func TestLoadedAfterIsWhatTheStoreHolds(t *testing.T) {
	turn := &actors.InFlightTurn{EventID: "$cut"}
	queue := []actors.QueuedMessage{{EventID: "$q", Text: "waiting"}}
	found := Found{
		Users: []actors.UserRecord{{UserID: "@a:x"}, {UserID: "@c:x"}},
		Records: []actors.RoomRecord{
			{RoomID: "!r1", OwnerID: "@a:x", ChatIndex: 1, TurnInFlight: turn},
			{RoomID: "!r2", OwnerID: "@a:x", ChatIndex: 2},
			{RoomID: "!r3", OwnerID: "@a:x", ChatIndex: 3, Queue: queue, Archived: true},
			{RoomID: "!r5", OwnerID: "@c:x", ChatIndex: 1, Queue: queue},
		},
	}
	plan := Plan{
		PutUsers: []actors.UserRecord{{UserID: "@b:x"}, {UserID: "@a:x"}},
		PutRooms: []actors.RoomRecord{
			{RoomID: "!r2", OwnerID: "@b:x", ChatIndex: 7, Queue: queue}, // moved to b
			{RoomID: "!r5", OwnerID: "@c:x", ChatIndex: 1},               // repaired: nothing waits
		},
	}
	store := &mapStore{users: map[string]actors.UserRecord{}, rooms: map[string]actors.RoomRecord{}}
	for _, u := range found.Users {
		store.users[u.UserID] = u
	}
	for _, r := range found.Records {
		store.rooms[r.RoomID] = r
	}
	// b's own room, which no user listed before the plan recovered b.
	store.rooms["!r4"] = actors.RoomRecord{RoomID: "!r4", OwnerID: "@b:x", ChatIndex: 1, TurnInFlight: turn}
	for _, u := range plan.PutUsers {
		store.users[u.UserID] = u
	}
	for _, r := range plan.PutRooms {
		store.rooms[r.RoomID] = r
	}

	ctx := context.Background()
	want, got := loadUsers(ctx, store), loadedAfter(ctx, store, found, plan)
	if want.Err != nil {
		t.Fatal(want.Err)
	}
	ids := func(rs []actors.RoomRecord) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.RoomID)
		}
		return out
	}
	if !reflect.DeepEqual(got.Users, want.Users) || !reflect.DeepEqual(ids(got.Interrupted), ids(want.Interrupted)) {
		t.Fatalf("loadedAfter: users %v, interrupted %v; the store lists users %v, interrupted %v",
			got.Users, ids(got.Interrupted), want.Users, ids(want.Interrupted))
	}
	if len(want.Interrupted) != 3 {
		t.Fatalf("the fixture has %d interrupted rooms (%v), want 3: it no longer tests what it says", len(want.Interrupted), ids(want.Interrupted))
	}
}

// mapStore is the part of Store that loadUsers and loadedAfter read.
type mapStore struct {
	actors.Store // nil: any other method panics
	users        map[string]actors.UserRecord
	rooms        map[string]actors.RoomRecord
}

func (s *mapStore) ListUsers(context.Context) ([]actors.UserRecord, error) {
	var out []actors.UserRecord
	for _, id := range slices.Sorted(maps.Keys(s.users)) {
		out = append(out, s.users[id])
	}
	return out, nil
}

func (s *mapStore) ListRooms(_ context.Context, userID string) ([]actors.RoomRecord, error) {
	var out []actors.RoomRecord
	for _, r := range s.rooms {
		if r.OwnerID == userID {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b actors.RoomRecord) int {
		return cmp.Or(cmp.Compare(a.ChatIndex, b.ChatIndex), cmp.Compare(a.RoomID, b.RoomID))
	})
	return out, nil
}
