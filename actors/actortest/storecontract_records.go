package actortest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
)

// Subtests on single records: missing gets, round trips, overwrites, and returned records being copies.

func (c contract) getMissing(t *testing.T) {
	tests := []struct {
		name string
		// seed writes neighbours of the missing id, so that a store matching
		// on prefixes or returning "some" record is caught.
		seed func(ctx context.Context, s actors.Store) error
		get  func(ctx context.Context, s actors.Store) (any, error)
	}{
		{
			name: "user in empty store",
			get: func(ctx context.Context, s actors.Store) (any, error) {
				return s.GetUser(ctx, "@nobody:x")
			},
		},
		{
			name: "user next to others",
			seed: func(ctx context.Context, s actors.Store) error {
				return errors.Join(s.PutUser(ctx, contractUser("@a:x")), s.PutUser(ctx, contractUser("@a:xy")))
			},
			get: func(ctx context.Context, s actors.Store) (any, error) {
				return s.GetUser(ctx, "@a:x/y")
			},
		},
		{
			name: "room in empty store",
			get: func(ctx context.Context, s actors.Store) (any, error) {
				return s.GetRoom(ctx, "!nowhere:x")
			},
		},
		{
			name: "room next to others",
			seed: func(ctx context.Context, s actors.Store) error {
				return errors.Join(s.PutRoom(ctx, contractRoom("!r:x", "@a:x")), s.PutRoom(ctx, contractRoom("!r:xy", "@a:x")))
			},
			get: func(ctx context.Context, s actors.Store) (any, error) {
				return s.GetRoom(ctx, "!r:x/y")
			},
		},
		{
			// A user id is not a room id: the two kinds do not share keys.
			name: "room named like a user",
			seed: func(ctx context.Context, s actors.Store) error {
				return s.PutUser(ctx, contractUser("@a:x"))
			},
			get: func(ctx context.Context, s actors.Store) (any, error) {
				return s.GetRoom(ctx, "@a:x")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ctx := c.store(t), t.Context()
			if tc.seed != nil {
				if err := tc.seed(ctx, s); err != nil {
					t.Fatalf("seeding: %v", err)
				}
			}
			got, err := tc.get(ctx, s)
			if !errors.Is(err, actors.ErrNotFound) {
				t.Fatalf("get of a missing record returned (%+v, %v), want an error wrapping actors.ErrNotFound", got, err)
			}
		})
	}
}

func (c contract) userRoundTrip(t *testing.T) {
	now := time.Now() // has a monotonic reading, which a round trip may drop
	tests := []struct {
		name string
		user actors.UserRecord
		full bool // the fixture must set every field
	}{
		{name: "minimal", user: actors.UserRecord{UserID: "@min:x"}},
		{name: "every field", user: contractUser("@alice:example.org"), full: true},
		{name: "slash and percent in id", user: actors.UserRecord{UserID: "@a/b%2F:x", ChatCounter: 1}},
		{name: "wall clock times", user: actors.UserRecord{UserID: "@now:x", CreatedAt: now, UpdatedAt: now.Add(time.Nanosecond)}},
		{name: "utc times", user: actors.UserRecord{UserID: "@utc:x", CreatedAt: contractAt(1).UTC(), UpdatedAt: contractAt(2).UTC()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.full {
				requireEveryFieldSet(t, "UserRecord fixture", tc.user)
			}
			s, ctx := c.store(t), t.Context()
			if err := s.PutUser(ctx, tc.user); err != nil {
				t.Fatalf("PutUser(%+v): %v", tc.user, err)
			}
			got, err := s.GetUser(ctx, tc.user.UserID)
			if err != nil {
				t.Fatalf("GetUser(%q) after PutUser: %v", tc.user.UserID, err)
			}
			checkSameRecord(t, fmt.Sprintf("GetUser(%q)", tc.user.UserID), got, tc.user)
		})
	}
}

func (c contract) roomRoundTrip(t *testing.T) {
	now := time.Now()
	withNow := contractRoom("!now:x", "@a:x")
	withNow.LastTurnAt, withNow.TurnInFlight.StartedAt, withNow.Staged[0].StagedAt = now, now, now
	tests := []struct {
		name string
		room actors.RoomRecord
		full bool // the fixture must set every field
	}{
		{name: "minimal", room: actors.RoomRecord{RoomID: "!min:x", OwnerID: "@a:x"}},
		{name: "every field", room: contractRoom("!room:example.org", "@alice:example.org"), full: true},
		{name: "zero-valued turn in flight", room: actors.RoomRecord{RoomID: "!zero:x", OwnerID: "@a:x", TurnInFlight: &actors.InFlightTurn{}}},
		{name: "one staged attachment without optional fields", room: actors.RoomRecord{
			RoomID: "!one:x", OwnerID: "@a:x", ChatIndex: 1,
			Staged: []actors.Attachment{{Path: "incoming/x", Name: "x", StagedAt: contractAt(1)}},
		}},
		{name: "slash and percent in ids", room: actors.RoomRecord{RoomID: "!a/b%2F:x", OwnerID: "@o/p%:x", ChatIndex: 2}},
		{name: "wall clock times", room: withNow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.full {
				requireEveryFieldSet(t, "RoomRecord fixture", tc.room)
			}
			s, ctx := c.store(t), t.Context()
			if err := s.PutRoom(ctx, tc.room); err != nil {
				t.Fatalf("PutRoom(%+v): %v", tc.room, err)
			}
			got, err := s.GetRoom(ctx, tc.room.RoomID)
			if err != nil {
				t.Fatalf("GetRoom(%q) after PutRoom: %v", tc.room.RoomID, err)
			}
			checkSameRecord(t, fmt.Sprintf("GetRoom(%q)", tc.room.RoomID), got, tc.room)
			// The listing carries the same record.
			listed, err := s.ListRooms(ctx, tc.room.OwnerID)
			if err != nil {
				t.Fatalf("ListRooms(%q): %v", tc.room.OwnerID, err)
			}
			if len(listed) != 1 {
				t.Fatalf("ListRooms(%q) returned rooms %v, want only %q", tc.room.OwnerID, storeRoomIDs(listed), tc.room.RoomID)
			}
			checkSameRecord(t, fmt.Sprintf("ListRooms(%q)[0]", tc.room.OwnerID), listed[0], tc.room)
		})
	}
}

func (c contract) overwriteReplaces(t *testing.T) {
	// The second write of each case clears fields the first one set, so a
	// store that merges instead of replacing fails.
	tests := []struct {
		name string
		run  func(t *testing.T, ctx context.Context, s actors.Store)
	}{
		{name: "user", run: func(t *testing.T, ctx context.Context, s actors.Store) {
			second := actors.UserRecord{UserID: "@a:x", ChatCounter: 8, UpdatedAt: contractAt(30)}
			mustPutUser(t, ctx, s, contractUser("@a:x"))
			mustPutUser(t, ctx, s, second)
			got, err := s.GetUser(ctx, "@a:x")
			if err != nil {
				t.Fatalf("GetUser after overwrite: %v", err)
			}
			checkSameRecord(t, `GetUser("@a:x") after overwrite`, got, second)
			users, err := s.ListUsers(ctx)
			if err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			if len(users) != 1 {
				t.Fatalf("ListUsers after overwriting one user returned %v, want only [@a:x]", storeUserIDs(users))
			}
			checkSameRecord(t, "ListUsers()[0] after overwrite", users[0], second)
		}},
		{name: "room clears staged, turn in flight and archived", run: func(t *testing.T, ctx context.Context, s actors.Store) {
			first := contractRoom("!r:x", "@a:x")
			second := first
			second.Staged, second.TurnInFlight, second.Archived = nil, nil, false
			second.Name, second.TokensUsed, second.UpdatedAt = "renamed", 2000, contractAt(40)
			mustPutRoom(t, ctx, s, first)
			mustPutRoom(t, ctx, s, second)
			got, err := s.GetRoom(ctx, "!r:x")
			if err != nil {
				t.Fatalf("GetRoom after overwrite: %v", err)
			}
			checkSameRecord(t, `GetRoom("!r:x") after overwrite`, got, second)
		}},
		{name: "room keeps fewer staged attachments", run: func(t *testing.T, ctx context.Context, s actors.Store) {
			first := contractRoom("!r:x", "@a:x")
			second := contractRoom("!r:x", "@a:x")
			second.Staged = second.Staged[1:]
			second.TurnInFlight = &actors.InFlightTurn{EventID: "$next", StartedAt: contractAt(50)}
			mustPutRoom(t, ctx, s, first)
			mustPutRoom(t, ctx, s, second)
			got, err := s.GetRoom(ctx, "!r:x")
			if err != nil {
				t.Fatalf("GetRoom after overwrite: %v", err)
			}
			checkSameRecord(t, `GetRoom("!r:x") after overwrite`, got, second)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, t.Context(), c.store(t))
		})
	}
}

func (c contract) returnedRecordsAreCopies(t *testing.T) {
	// Each case changes, in place, memory a careless store would share with
	// its own copy (Staged elements, the TurnInFlight and LastFailed
	// pointees, list elements), then reads again and expects what was put.
	mutateRoom := func(r *actors.RoomRecord) {
		r.Staged[0].Name = "mutated"
		r.Staged[1].StagedAt = time.Time{}
		r.TurnInFlight.EventID = "$mutated"
		r.TurnInFlight.StartedAt = time.Time{}
		r.LastFailed.Text = "mutated"
	}
	tests := []struct {
		name string
		run  func(t *testing.T, ctx context.Context, s actors.Store)
	}{
		{name: "GetRoom result", run: func(t *testing.T, ctx context.Context, s actors.Store) {
			mustPutRoom(t, ctx, s, contractRoom("!r:x", "@a:x"))
			got, err := s.GetRoom(ctx, "!r:x")
			if err != nil {
				t.Fatalf("GetRoom: %v", err)
			}
			mutateRoom(&got)
			checkStoredRoom(t, ctx, s, contractRoom("!r:x", "@a:x"))
		}},
		{name: "ListRooms result", run: func(t *testing.T, ctx context.Context, s actors.Store) {
			mustPutRoom(t, ctx, s, contractRoom("!r:x", "@a:x"))
			got, err := s.ListRooms(ctx, "@a:x")
			if err != nil || len(got) != 1 {
				t.Fatalf("ListRooms = (%v, %v), want one room", storeRoomIDs(got), err)
			}
			mutateRoom(&got[0])
			got[0].Name = "mutated"
			checkStoredRoom(t, ctx, s, contractRoom("!r:x", "@a:x"))
		}},
		{name: "PutRoom argument", run: func(t *testing.T, ctx context.Context, s actors.Store) {
			r := contractRoom("!r:x", "@a:x")
			mustPutRoom(t, ctx, s, r)
			mutateRoom(&r)
			checkStoredRoom(t, ctx, s, contractRoom("!r:x", "@a:x"))
		}},
		{name: "ListUsers result", run: func(t *testing.T, ctx context.Context, s actors.Store) {
			mustPutUser(t, ctx, s, contractUser("@a:x"))
			got, err := s.ListUsers(ctx)
			if err != nil || len(got) != 1 {
				t.Fatalf("ListUsers = (%v, %v), want one user", storeUserIDs(got), err)
			}
			got[0].AgentID, got[0].ChatCounter = "mutated", 99
			again, err := s.ListUsers(ctx)
			if err != nil || len(again) != 1 {
				t.Fatalf("ListUsers again = (%v, %v), want one user", storeUserIDs(again), err)
			}
			checkSameRecord(t, "ListUsers()[0] after changing an earlier result", again[0], contractUser("@a:x"))
		}},
		{name: "ListSavedContexts result", run: func(t *testing.T, ctx context.Context, s actors.Store) {
			mustPutSaved(t, ctx, s, contractSaved("@a:x", "one"))
			got, err := s.ListSavedContexts(ctx, "@a:x")
			if err != nil || len(got) != 1 {
				t.Fatalf("ListSavedContexts = (%v, %v), want one context", storeSavedNames(got), err)
			}
			got[0].PlatformChatID, got[0].Name = "mutated", "mutated"
			again, err := s.ListSavedContexts(ctx, "@a:x")
			if err != nil || len(again) != 1 {
				t.Fatalf("ListSavedContexts again = (%v, %v), want one context", storeSavedNames(again), err)
			}
			checkSameRecord(t, "ListSavedContexts()[0] after changing an earlier result", again[0], contractSaved("@a:x", "one"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, t.Context(), c.store(t))
		})
	}
}

// checkStoredRoom reads want.RoomID back, alone and in its owner's list.
func checkStoredRoom(t *testing.T, ctx context.Context, s actors.Store, want actors.RoomRecord) {
	t.Helper()
	got, err := s.GetRoom(ctx, want.RoomID)
	if err != nil {
		t.Fatalf("GetRoom(%q): %v", want.RoomID, err)
	}
	checkSameRecord(t, fmt.Sprintf("GetRoom(%q) after changing an earlier result", want.RoomID), got, want)
	listed, err := s.ListRooms(ctx, want.OwnerID)
	if err != nil || len(listed) != 1 {
		t.Fatalf("ListRooms(%q) = (%v, %v), want [%s]", want.OwnerID, storeRoomIDs(listed), err, want.RoomID)
	}
	checkSameRecord(t, fmt.Sprintf("ListRooms(%q)[0] after changing an earlier result", want.OwnerID), listed[0], want)
}

// activateRoomFences: of two activations of one room, the older can no
// longer write, by PutRoom or PutRooms; the newer can; GetRoom and
// ListRooms tell the stored epoch; a missing room cannot be activated.
func (c contract) activateRoomFences(t *testing.T) {
	s, ctx := c.store(t), t.Context()
	if _, err := s.ActivateRoom(ctx, "!missing:x"); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("ActivateRoom of a missing room: %v, want ErrNotFound", err)
	}
	base := contractRoom("!fenced:x", "@owner:x")
	base.Epoch = 0
	mustPutRoom(t, ctx, s, base)
	older, err := s.ActivateRoom(ctx, base.RoomID)
	if err != nil || older.Epoch != 1 || older.Name != base.Name {
		t.Fatalf("first ActivateRoom = epoch %d, name %q, %v; want epoch 1 and the record", older.Epoch, older.Name, err)
	}
	newer, err := s.ActivateRoom(ctx, base.RoomID)
	if err != nil || newer.Epoch != 2 {
		t.Fatalf("second ActivateRoom = epoch %d, %v; want 2", newer.Epoch, err)
	}
	older.Name = "written by the older activation"
	if err := s.PutRoom(ctx, older); !errors.Is(err, actors.ErrStaleEpoch) {
		t.Fatalf("PutRoom by the older activation: %v, want ErrStaleEpoch", err)
	}
	if err := s.PutRooms(ctx, []actors.RoomRecord{older}); !errors.Is(err, actors.ErrStaleEpoch) {
		t.Fatalf("PutRooms by the older activation: %v, want ErrStaleEpoch", err)
	}
	if got, err := s.GetRoom(ctx, base.RoomID); err != nil || got.Name != base.Name || got.Epoch != 2 {
		t.Fatalf("after the refused writes GetRoom = name %q, epoch %d, %v; want the stored record at epoch 2", got.Name, got.Epoch, err)
	}
	newer.Name = "written by the newer activation"
	mustPutRoom(t, ctx, s, newer)
	listed, err := s.ListRooms(ctx, base.OwnerID)
	if err != nil || len(listed) != 1 || listed[0].Name != newer.Name || listed[0].Epoch != 2 {
		t.Fatalf("ListRooms after the newer write = %+v, %v", listed, err)
	}
}
