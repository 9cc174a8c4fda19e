package actortest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
)

// RunStoreContract runs the behaviour every actors.Store must have against
// stores made by open (each subtest gets a fresh, empty store). It is run
// against persistence.Store (Badger) and against the in-memory Store of this
// package, so that the fake cannot drift from the real thing.
//
// Where actors.Store's doc comment is silent, the contract pins what the
// Badger store does and what actors rely on:
//
//   - Times are compared with time.Equal: a round trip keeps the instant to
//     the nanosecond, but neither the zone (Badger stores RFC 3339 text and
//     hands back a fixed offset or UTC) nor the monotonic clock reading.
//   - A nil and an empty Staged slice are the same; a nil and a non-nil
//     TurnInFlight are not (a non-nil, zero-valued one still means "a turn
//     was running").
//   - ListUsers is ordered by user id; ListRooms by ChatIndex, then room id;
//     ListSavedContexts by SavedAt, oldest first, then name (the numbers
//     !load shows must stay stable as contexts are added).
//   - PutSavedContext under an existing (user, name) replaces that context.
//   - NextPlatformChatID on a fresh store returns "1", "2", ... with no gap
//     and no repeat, under concurrent callers too.
//   - Records without their identity (an empty user or room id, an empty
//     owner, a saved context without user or name) and negative chat
//     indexes are refused with an error, and nothing is written.
//   - A cancelled context fails reads and writes with an error wrapping
//     context.Canceled, and a failed write leaves nothing behind.
//   - Returned records share no memory with the store: changing a returned
//     Staged slice or TurnInFlight, or the caller's own record after a put,
//     does not change what is stored.
func RunStoreContract(t *testing.T, open func(t *testing.T) actors.Store) {
	t.Helper()
	c := contract{open: open}
	t.Run("GetMissingIsNotFound", c.getMissing)
	t.Run("UserRoundTrip", c.userRoundTrip)
	t.Run("RoomRoundTrip", c.roomRoundTrip)
	t.Run("OverwriteReplaces", c.overwriteReplaces)
	t.Run("ListUsers", c.listUsers)
	t.Run("ListRooms", c.listRooms)
	t.Run("ReturnedRecordsAreCopies", c.returnedRecordsAreCopies)
	t.Run("NextPlatformChatIDSequential", c.nextIDSequential)
	t.Run("NextPlatformChatIDConcurrent", c.nextIDConcurrent)
	t.Run("SavedContexts", c.savedContexts)
	t.Run("RejectsInvalidRecords", c.rejectsInvalidRecords)
	t.Run("CancelledContext", c.cancelledContext)
}

// contract holds the subtests of RunStoreContract.
type contract struct {
	open func(t *testing.T) actors.Store
}

// store opens a fresh store for the (sub)test t.
func (c contract) store(t *testing.T) actors.Store {
	t.Helper()
	s := c.open(t)
	if s == nil {
		t.Fatal("open returned a nil store")
	}
	return s
}

// Fixtures. Times carry nanoseconds, so that a store that truncates them
// fails the round trip, and a zone other than UTC, which Badger does not
// keep as given (hence the comparison by instant).

var contractZone = time.FixedZone("UTC+2", 2*60*60)

// contractAt is a fixed instant sec seconds into the fixture minute.
func contractAt(sec int) time.Time {
	return time.Date(2026, 4, 28, 11, 0, sec, 123456789, contractZone)
}

// contractUser sets every field of UserRecord (checked by unsetRecordFields).
func contractUser(id string) actors.UserRecord {
	return actors.UserRecord{
		UserID: id, SpaceID: "!space:example.org", EntryRoomID: "!dm:example.org",
		AgentID: "agent-0", ChatCounter: 7, DefaultAgentNoticed: true,
		CreatedAt: contractAt(1), UpdatedAt: contractAt(2),
	}
}

// contractRoom sets every field of RoomRecord and of what it points to.
func contractRoom(id, owner string) actors.RoomRecord {
	return actors.RoomRecord{
		RoomID: id, OwnerID: owner, SpaceID: "!space:example.org",
		ChatIndex: 3, Name: "Chat 3", PlatformChatID: "42", AgentID: "agent-0", Archived: true,
		Staged: []actors.Attachment{
			{Path: "incoming/20260428-110000-a.pdf", Name: "a.pdf", MIME: "application/pdf", Size: 10, EventID: "$a", StagedAt: contractAt(3)},
			{Path: "incoming/20260428-110001-b.png", Name: "b.png", MIME: "image/png", Size: 20, EventID: "$b", StagedAt: contractAt(4)},
		},
		LastTurnAt:   contractAt(5),
		TokensUsed:   1234,
		TurnInFlight: &actors.InFlightTurn{EventID: "$turn", StartedAt: contractAt(6)},
		CreatedAt:    contractAt(7),
		UpdatedAt:    contractAt(8),
	}
}

// contractSaved sets every field of SavedContext.
func contractSaved(user, name string) actors.SavedContext {
	return actors.SavedContext{UserID: user, Name: name, PlatformChatID: "17", AgentID: "agent-1", SavedAt: contractAt(9)}
}

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

func (c contract) listUsers(t *testing.T) {
	t.Run("empty store", func(t *testing.T) {
		s := c.store(t)
		got, err := s.ListUsers(t.Context())
		if err != nil || len(got) != 0 {
			t.Fatalf("ListUsers on an empty store = (%v, %v), want no users and no error", storeUserIDs(got), err)
		}
	})
	t.Run("every user ordered by id", func(t *testing.T) {
		s, ctx := c.store(t), t.Context()
		// Written in an order that is neither sorted nor a rotation of the
		// sorted order, so that no iteration order of a map passes by luck.
		order := []string{"@d:x", "@a:x/y", "@f:x", "@a:x", "@e:x", "@b:x", "@a:xy", "@c:x"}
		want := map[string]actors.UserRecord{}
		for i, id := range order {
			u := actors.UserRecord{UserID: id, ChatCounter: i + 1, CreatedAt: contractAt(i)}
			mustPutUser(t, ctx, s, u)
			want[id] = u
		}
		// Overwriting one must not duplicate it, and the listing shows the
		// newer record.
		want["@c:x"] = contractUser("@c:x")
		mustPutUser(t, ctx, s, want["@c:x"])

		got, err := s.ListUsers(ctx)
		if err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
		wantIDs := slices.Sorted(maps.Keys(want))
		if ids := storeUserIDs(got); !slices.Equal(ids, wantIDs) {
			t.Fatalf("ListUsers ids = %q, want %q (every user once, ordered by user id)", ids, wantIDs)
		}
		for i, u := range got {
			checkSameRecord(t, fmt.Sprintf("ListUsers()[%d]", i), u, want[u.UserID])
		}
	})
}

func (c contract) listRooms(t *testing.T) {
	s, ctx := c.store(t), t.Context()
	room := func(id, owner string, index int, archived bool) actors.RoomRecord {
		r := contractRoom(id, owner)
		r.ChatIndex, r.Archived, r.Name = index, archived, "Chat "+strconv.Itoa(index)
		return r
	}
	// Written out of order (10 before 2 catches a text sort; the tie is
	// written in reverse id order), with owners whose ids extend "@a:x".
	puts := []actors.RoomRecord{
		room("!r10:x", "@a:x", 10, false),
		room("!r2:x", "@a:x", 2, false),
		room("!tie-b:x", "@a:x", 5, false),
		room("!other1:x", "@a:xy", 1, false),
		room("!r1:x", "@a:x", 1, true),
		room("!tie-a:x", "@a:x", 5, true),
		room("!other2:x", "@a:x/evil", 1, false),
		room("!b1:x", "@b:x", 1, false),
		room("!r0:x", "@a:x", 0, false),
		// Written again below with another owner and index.
		room("!moved:x", "@a:x", 3, false),
		room("!reindexed:x", "@b:x", 9, false),
	}
	for _, r := range puts {
		mustPutRoom(t, ctx, s, r)
	}
	moved := room("!moved:x", "@b:x", 4, false)
	reindexed := room("!reindexed:x", "@b:x", 0, false)
	mustPutRoom(t, ctx, s, moved)
	mustPutRoom(t, ctx, s, reindexed)

	byID := map[string]actors.RoomRecord{}
	for _, r := range append(puts, moved, reindexed) {
		byID[r.RoomID] = r
	}
	tests := []struct {
		owner string
		want  []string
	}{
		{owner: "@a:x", want: []string{"!r0:x", "!r1:x", "!r2:x", "!tie-a:x", "!tie-b:x", "!r10:x"}},
		{owner: "@a:xy", want: []string{"!other1:x"}},
		{owner: "@a:x/evil", want: []string{"!other2:x"}},
		{owner: "@b:x", want: []string{"!reindexed:x", "!b1:x", "!moved:x"}},
		{owner: "@nobody:x", want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.owner, func(t *testing.T) {
			got, err := s.ListRooms(ctx, tc.owner)
			if err != nil {
				t.Fatalf("ListRooms(%q): %v", tc.owner, err)
			}
			if ids := storeRoomIDs(got); !slices.Equal(ids, tc.want) {
				t.Fatalf("ListRooms(%q) = %q, want %q (only this owner's rooms, archived included, by ChatIndex then room id)", tc.owner, ids, tc.want)
			}
			for i, r := range got {
				checkSameRecord(t, fmt.Sprintf("ListRooms(%q)[%d]", tc.owner, i), r, byID[r.RoomID])
			}
		})
	}
}

func (c contract) returnedRecordsAreCopies(t *testing.T) {
	// Each case changes, in place, memory a careless store would share with
	// its own copy (Staged elements, the TurnInFlight pointee, list
	// elements), then reads again and expects what was put.
	mutateRoom := func(r *actors.RoomRecord) {
		r.Staged[0].Name = "mutated"
		r.Staged[1].StagedAt = time.Time{}
		r.TurnInFlight.EventID = "$mutated"
		r.TurnInFlight.StartedAt = time.Time{}
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

func (c contract) nextIDSequential(t *testing.T) {
	s, ctx := c.store(t), t.Context()
	for want := 1; want <= 5; want++ {
		got, err := s.NextPlatformChatID(ctx)
		if err != nil {
			t.Fatalf("NextPlatformChatID call %d: %v", want, err)
		}
		if got != strconv.Itoa(want) {
			t.Fatalf("NextPlatformChatID call %d on a fresh store = %q, want %q", want, got, strconv.Itoa(want))
		}
	}
}

func (c contract) nextIDConcurrent(t *testing.T) {
	s, ctx := c.store(t), t.Context()
	const workers, perWorker = 8, 25
	var (
		wg   sync.WaitGroup
		got  [workers][]string
		errs [workers]error
	)
	for w := range workers {
		wg.Go(func() {
			for range perWorker {
				id, err := s.NextPlatformChatID(ctx)
				if err != nil {
					errs[w] = err
					return
				}
				got[w] = append(got[w], id)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatalf("NextPlatformChatID under %d concurrent callers: %v", workers, err)
	}
	seen := map[int]int{} // value -> worker that got it
	for w, ids := range got {
		prev := 0
		for _, id := range ids {
			n, err := strconv.Atoi(id)
			if err != nil || n <= 0 {
				t.Fatalf("worker %d got platform_chat_id %q, want a positive decimal number", w, id)
			}
			if n <= prev {
				t.Fatalf("worker %d got %d after %d, want each call to return more than the last", w, n, prev)
			}
			if other, dup := seen[n]; dup {
				t.Fatalf("platform_chat_id %d handed out twice (workers %d and %d), want every value once", n, other, w)
			}
			seen[n], prev = w, n
		}
	}
	const total = workers * perWorker
	for n := 1; n <= total; n++ {
		if _, ok := seen[n]; !ok {
			t.Fatalf("after %d calls, value %d was never handed out, want exactly 1..%d (got %d distinct values)", total, n, total, len(seen))
		}
	}
	next, err := s.NextPlatformChatID(ctx)
	if err != nil {
		t.Fatalf("NextPlatformChatID after the concurrent calls: %v", err)
	}
	if want := strconv.Itoa(total + 1); next != want {
		t.Fatalf("NextPlatformChatID after %d concurrent calls = %q, want %q", total, next, want)
	}
}

func (c contract) savedContexts(t *testing.T) {
	t.Run("every field round-trips", func(t *testing.T) {
		want := contractSaved("@a:x", "report")
		requireEveryFieldSet(t, "SavedContext fixture", want)
		s, ctx := c.store(t), t.Context()
		mustPutSaved(t, ctx, s, want)
		got, err := s.ListSavedContexts(ctx, "@a:x")
		if err != nil || len(got) != 1 {
			t.Fatalf("ListSavedContexts = (%v, %v), want [report]", storeSavedNames(got), err)
		}
		checkSameRecord(t, `ListSavedContexts("@a:x")[0]`, got[0], want)
	})
	t.Run("per user, oldest first, ties by name", func(t *testing.T) {
		s, ctx := c.store(t), t.Context()
		sc := func(user, name string, sec int) actors.SavedContext {
			return actors.SavedContext{UserID: user, Name: name, PlatformChatID: strconv.Itoa(100 + sec), AgentID: "agent-0", SavedAt: contractAt(sec)}
		}
		// Written neither in the listed order nor in name order.
		for _, v := range []actors.SavedContext{
			sc("@a:x", "later", 3),
			sc("@a:x", "first", 1),
			sc("@a:x", "b/same", 2),
			sc("@a:x/y", "other user", 0),
			sc("@a:x", "a-same", 2),
			sc("@a:xy", "prefix user", 0),
			sc("@a:x", "Zed", 4),
		} {
			mustPutSaved(t, ctx, s, v)
		}
		tests := []struct {
			user string
			want []actors.SavedContext
		}{
			{user: "@a:x", want: []actors.SavedContext{
				sc("@a:x", "first", 1), sc("@a:x", "a-same", 2), sc("@a:x", "b/same", 2), sc("@a:x", "later", 3), sc("@a:x", "Zed", 4),
			}},
			{user: "@a:x/y", want: []actors.SavedContext{sc("@a:x/y", "other user", 0)}},
			{user: "@a:xy", want: []actors.SavedContext{sc("@a:xy", "prefix user", 0)}},
			{user: "@nobody:x", want: nil},
		}
		for _, tc := range tests {
			t.Run(tc.user, func(t *testing.T) {
				got, err := s.ListSavedContexts(ctx, tc.user)
				if err != nil {
					t.Fatalf("ListSavedContexts(%q): %v", tc.user, err)
				}
				if names, want := storeSavedNames(got), storeSavedNames(tc.want); !slices.Equal(names, want) {
					t.Fatalf("ListSavedContexts(%q) = %q, want %q (only this user's, by SavedAt then name)", tc.user, names, want)
				}
				checkSameRecord(t, fmt.Sprintf("ListSavedContexts(%q)", tc.user), got, tc.want)
			})
		}
	})
	t.Run("same name replaces", func(t *testing.T) {
		s, ctx := c.store(t), t.Context()
		first := actors.SavedContext{UserID: "@a:x", Name: "ctx", PlatformChatID: "1", AgentID: "agent-0", SavedAt: contractAt(1)}
		other := actors.SavedContext{UserID: "@a:x", Name: "other", PlatformChatID: "2", AgentID: "agent-0", SavedAt: contractAt(2)}
		again := actors.SavedContext{UserID: "@a:x", Name: "ctx", PlatformChatID: "9", AgentID: "agent-1", SavedAt: contractAt(3)}
		// Another user's context of the same name is a different one.
		elsewhere := actors.SavedContext{UserID: "@b:x", Name: "ctx", PlatformChatID: "5", SavedAt: contractAt(0)}
		for _, v := range []actors.SavedContext{first, elsewhere, other, again} {
			mustPutSaved(t, ctx, s, v)
		}
		got, err := s.ListSavedContexts(ctx, "@a:x")
		if err != nil {
			t.Fatalf("ListSavedContexts: %v", err)
		}
		want := []actors.SavedContext{other, again}
		if names := storeSavedNames(got); !slices.Equal(names, storeSavedNames(want)) {
			t.Fatalf("after saving %q twice ListSavedContexts = %q, want %q (the second save replaces the first, ordered by its new SavedAt)", "ctx", names, storeSavedNames(want))
		}
		checkSameRecord(t, `ListSavedContexts("@a:x") after re-saving "ctx"`, got, want)
		gotB, err := s.ListSavedContexts(ctx, "@b:x")
		if err != nil {
			t.Fatalf("ListSavedContexts(@b:x): %v", err)
		}
		checkSameRecord(t, `ListSavedContexts("@b:x")`, gotB, []actors.SavedContext{elsewhere})
	})
}

func (c contract) rejectsInvalidRecords(t *testing.T) {
	tests := []struct {
		name string
		put  func(ctx context.Context, s actors.Store) error
		// empty checks that nothing was written.
		empty func(t *testing.T, ctx context.Context, s actors.Store)
	}{
		{
			name: "user without id",
			put: func(ctx context.Context, s actors.Store) error {
				return s.PutUser(ctx, actors.UserRecord{ChatCounter: 1})
			},
			empty: checkNoUsers,
		},
		{
			name: "room without id",
			put: func(ctx context.Context, s actors.Store) error {
				return s.PutRoom(ctx, actors.RoomRecord{OwnerID: "@a:x", ChatIndex: 1})
			},
			empty: func(t *testing.T, ctx context.Context, s actors.Store) { checkNoRooms(t, ctx, s, "", "@a:x") },
		},
		{
			name: "room without owner",
			put: func(ctx context.Context, s actors.Store) error {
				return s.PutRoom(ctx, actors.RoomRecord{RoomID: "!r:x", ChatIndex: 1})
			},
			empty: func(t *testing.T, ctx context.Context, s actors.Store) { checkNoRooms(t, ctx, s, "!r:x", "") },
		},
		{
			name: "room with negative chat index",
			put: func(ctx context.Context, s actors.Store) error {
				return s.PutRoom(ctx, actors.RoomRecord{RoomID: "!r:x", OwnerID: "@a:x", ChatIndex: -1})
			},
			empty: func(t *testing.T, ctx context.Context, s actors.Store) { checkNoRooms(t, ctx, s, "!r:x", "@a:x") },
		},
		{
			name: "saved context without user",
			put: func(ctx context.Context, s actors.Store) error {
				return s.PutSavedContext(ctx, actors.SavedContext{Name: "n", PlatformChatID: "1"})
			},
			empty: func(t *testing.T, ctx context.Context, s actors.Store) { checkNoSaved(t, ctx, s, "") },
		},
		{
			name: "saved context without name",
			put: func(ctx context.Context, s actors.Store) error {
				return s.PutSavedContext(ctx, actors.SavedContext{UserID: "@a:x", PlatformChatID: "1"})
			},
			empty: func(t *testing.T, ctx context.Context, s actors.Store) { checkNoSaved(t, ctx, s, "@a:x") },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ctx := c.store(t), t.Context()
			if err := tc.put(ctx, s); err == nil {
				t.Fatal("put of an invalid record returned nil, want an error")
			}
			tc.empty(t, ctx, s)
		})
	}
}

func (c contract) cancelledContext(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		call func(ctx context.Context, s actors.Store) error
		// after checks, with a live context, that a write left nothing.
		after func(t *testing.T, ctx context.Context, s actors.Store)
	}{
		{
			name: "PutUser",
			call: func(ctx context.Context, s actors.Store) error { return s.PutUser(ctx, contractUser("@new:x")) },
			after: func(t *testing.T, ctx context.Context, s actors.Store) {
				if u, err := s.GetUser(ctx, "@new:x"); !errors.Is(err, actors.ErrNotFound) {
					t.Fatalf("GetUser after a cancelled PutUser = (%+v, %v), want an error wrapping actors.ErrNotFound", u, err)
				}
			},
		},
		{
			name: "PutRoom",
			call: func(ctx context.Context, s actors.Store) error {
				return s.PutRoom(ctx, contractRoom("!new:x", "@new:x"))
			},
			after: func(t *testing.T, ctx context.Context, s actors.Store) { checkNoRooms(t, ctx, s, "!new:x", "@new:x") },
		},
		{
			name: "PutSavedContext",
			call: func(ctx context.Context, s actors.Store) error {
				return s.PutSavedContext(ctx, contractSaved("@new:x", "n"))
			},
			after: func(t *testing.T, ctx context.Context, s actors.Store) { checkNoSaved(t, ctx, s, "@new:x") },
		},
		{
			name: "NextPlatformChatID",
			call: func(ctx context.Context, s actors.Store) error { _, err := s.NextPlatformChatID(ctx); return err },
			after: func(t *testing.T, ctx context.Context, s actors.Store) {
				// The failed call consumed nothing.
				if id, err := s.NextPlatformChatID(ctx); err != nil || id != "1" {
					t.Fatalf("NextPlatformChatID after a cancelled call = (%q, %v), want (\"1\", nil)", id, err)
				}
			},
		},
		{name: "GetUser", call: func(ctx context.Context, s actors.Store) error { _, err := s.GetUser(ctx, "@a:x"); return err }},
		{name: "ListUsers", call: func(ctx context.Context, s actors.Store) error { _, err := s.ListUsers(ctx); return err }},
		{name: "GetRoom", call: func(ctx context.Context, s actors.Store) error { _, err := s.GetRoom(ctx, "!r:x"); return err }},
		{name: "ListRooms", call: func(ctx context.Context, s actors.Store) error { _, err := s.ListRooms(ctx, "@a:x"); return err }},
		{name: "ListSavedContexts", call: func(ctx context.Context, s actors.Store) error {
			_, err := s.ListSavedContexts(ctx, "@a:x")
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ctx := c.store(t), t.Context()
			// The reads have something to find, so that an error cannot
			// come from the record being missing.
			mustPutUser(t, ctx, s, contractUser("@a:x"))
			mustPutRoom(t, ctx, s, contractRoom("!r:x", "@a:x"))
			mustPutSaved(t, ctx, s, contractSaved("@a:x", "n"))
			if err := tc.call(cancelled, s); !errors.Is(err, context.Canceled) {
				t.Fatalf("%s with a cancelled context returned %v, want an error wrapping context.Canceled", tc.name, err)
			}
			if tc.after != nil {
				tc.after(t, ctx, s)
			}
		})
	}
}

// Helpers.

func mustPutUser(t *testing.T, ctx context.Context, s actors.Store, u actors.UserRecord) {
	t.Helper()
	if err := s.PutUser(ctx, u); err != nil {
		t.Fatalf("PutUser(%q): %v", u.UserID, err)
	}
}

func mustPutRoom(t *testing.T, ctx context.Context, s actors.Store, r actors.RoomRecord) {
	t.Helper()
	if err := s.PutRoom(ctx, r); err != nil {
		t.Fatalf("PutRoom(%q): %v", r.RoomID, err)
	}
}

func mustPutSaved(t *testing.T, ctx context.Context, s actors.Store, v actors.SavedContext) {
	t.Helper()
	if err := s.PutSavedContext(ctx, v); err != nil {
		t.Fatalf("PutSavedContext(%q, %q): %v", v.UserID, v.Name, err)
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

func checkNoUsers(t *testing.T, ctx context.Context, s actors.Store) {
	t.Helper()
	if users, err := s.ListUsers(ctx); err != nil || len(users) != 0 {
		t.Fatalf("ListUsers after a failed PutUser = (%q, %v), want no users", storeUserIDs(users), err)
	}
}

// checkNoRooms checks that roomID is missing (when not empty) and that
// owner has no room (when not empty).
func checkNoRooms(t *testing.T, ctx context.Context, s actors.Store, roomID, owner string) {
	t.Helper()
	if roomID != "" {
		if r, err := s.GetRoom(ctx, roomID); !errors.Is(err, actors.ErrNotFound) {
			t.Fatalf("GetRoom(%q) after a failed PutRoom = (%+v, %v), want an error wrapping actors.ErrNotFound", roomID, r, err)
		}
	}
	if owner != "" {
		if rooms, err := s.ListRooms(ctx, owner); err != nil || len(rooms) != 0 {
			t.Fatalf("ListRooms(%q) after a failed PutRoom = (%q, %v), want no rooms", owner, storeRoomIDs(rooms), err)
		}
	}
}

func checkNoSaved(t *testing.T, ctx context.Context, s actors.Store, user string) {
	t.Helper()
	if saved, err := s.ListSavedContexts(ctx, user); err != nil || len(saved) != 0 {
		t.Fatalf("ListSavedContexts(%q) after a failed PutSavedContext = (%q, %v), want none", user, storeSavedNames(saved), err)
	}
}

func storeUserIDs(us []actors.UserRecord) []string {
	ids := []string{}
	for _, u := range us {
		ids = append(ids, u.UserID)
	}
	return ids
}

func storeRoomIDs(rs []actors.RoomRecord) []string {
	ids := []string{}
	for _, r := range rs {
		ids = append(ids, r.RoomID)
	}
	return ids
}

func storeSavedNames(ss []actors.SavedContext) []string {
	names := []string{}
	for _, s := range ss {
		names = append(names, s.Name)
	}
	return names
}

// checkSameRecord reports every field where got differs from want, under the
// contract's equality: times by time.Equal, nil and empty slices alike.
func checkSameRecord[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if diffs := diffValues("", reflect.ValueOf(got), reflect.ValueOf(want), nil); len(diffs) > 0 {
		t.Errorf("%s differs from what was put:\n\t%s", what, strings.Join(diffs, "\n\t"))
	}
}

var diffTimeType = reflect.TypeFor[time.Time]()

// diffValues appends one line per difference between got and want, which
// have the same type, naming the field path ("" for the top value). Records have only exported
// fields, so it walks them whole; new fields are compared without change.
func diffValues(path string, got, want reflect.Value, out []string) []string {
	if got.Type() == diffTimeType {
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !g.Equal(w) {
			out = append(out, fmt.Sprintf("%s: got %s, want %s (a different instant)", diffWhere(path), g.Format(time.RFC3339Nano), w.Format(time.RFC3339Nano)))
		}
		return out
	}
	switch got.Kind() {
	case reflect.Struct:
		for i := range got.NumField() {
			out = diffValues(diffFieldPath(path, got.Type().Field(i).Name), got.Field(i), want.Field(i), out)
		}
	case reflect.Slice:
		if got.Len() != want.Len() {
			return append(out, fmt.Sprintf("%s: got %d elements %+v, want %d elements %+v", diffWhere(path), got.Len(), got.Interface(), want.Len(), want.Interface()))
		}
		for i := range got.Len() {
			out = diffValues(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i), out)
		}
	case reflect.Pointer:
		switch {
		case got.IsNil() && want.IsNil():
		case got.IsNil() || want.IsNil():
			out = append(out, fmt.Sprintf("%s: got %s, want %s", diffWhere(path), diffPointer(got), diffPointer(want)))
		default:
			out = diffValues(path, got.Elem(), want.Elem(), out)
		}
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			out = append(out, fmt.Sprintf("%s: got %#v, want %#v", diffWhere(path), got.Interface(), want.Interface()))
		}
	}
	return out
}

// diffFieldPath names field name of the value at path ("" is the top).
func diffFieldPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// diffWhere labels path in a difference.
func diffWhere(path string) string {
	if path == "" {
		return "the whole value"
	}
	return path
}

func diffPointer(v reflect.Value) string {
	if v.IsNil() {
		return "nil"
	}
	return fmt.Sprintf("&%+v", v.Elem().Interface())
}

// requireEveryFieldSet fails t when the fixture v leaves a field (at any
// depth) at its zero value: a round trip of such a fixture would not notice
// a store that drops the field. A field added to a record must be given a
// value in the fixture.
func requireEveryFieldSet(t *testing.T, what string, v any) {
	t.Helper()
	if unset := unsetRecordFields(reflect.TypeOf(v).Name(), reflect.ValueOf(v), nil); len(unset) > 0 {
		t.Fatalf("%s leaves %q at the zero value, want every field set so that the round trip covers it", what, unset)
	}
}

func unsetRecordFields(path string, v reflect.Value, out []string) []string {
	if v.Type() == diffTimeType {
		if v.Interface().(time.Time).IsZero() {
			out = append(out, path)
		}
		return out
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			out = unsetRecordFields(path+"."+v.Type().Field(i).Name, v.Field(i), out)
		}
	case reflect.Slice:
		if v.Len() == 0 {
			return append(out, path)
		}
		for i := range v.Len() {
			out = unsetRecordFields(fmt.Sprintf("%s[%d]", path, i), v.Index(i), out)
		}
	case reflect.Pointer:
		if v.IsNil() {
			return append(out, path)
		}
		out = unsetRecordFields(path, v.Elem(), out)
	default:
		if v.IsZero() {
			out = append(out, path)
		}
	}
	return out
}
