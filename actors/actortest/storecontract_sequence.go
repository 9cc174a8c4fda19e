package actortest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
)

// Subtests on NextPlatformChatID (sequential and concurrent) and on refusals: invalid records, cancelled contexts.

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

// raiseID: after RaisePlatformChatID(n) the next id is above n; raising to
// a lower value changes nothing.
func (c contract) raiseID(t *testing.T) {
	s, ctx := c.store(t), t.Context()
	if _, err := s.NextPlatformChatID(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.RaisePlatformChatID(ctx, 41); err != nil {
		t.Fatalf("RaisePlatformChatID(41): %v", err)
	}
	if got, err := s.NextPlatformChatID(ctx); err != nil || got != "42" {
		t.Fatalf("after raising to 41 the next id is %q (%v), want \"42\"", got, err)
	}
	if err := s.RaisePlatformChatID(ctx, 10); err != nil {
		t.Fatalf("RaisePlatformChatID(10): %v", err)
	}
	if got, err := s.NextPlatformChatID(ctx); err != nil || got != "43" {
		t.Fatalf("after raising to a lower value the next id is %q (%v), want \"43\"", got, err)
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
