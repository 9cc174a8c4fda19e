package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/persistence/pgstore"
)

// TestOpenMigratesOnceAndKeepsState: members starting together on one
// database migrate it once, and what one wrote the next open reads.
func TestOpenMigratesOnceAndKeepsState(t *testing.T) {
	dsn := newDatabase(t)
	var (
		wg     sync.WaitGroup
		stores [3]*pgstore.Store
		errs   [3]error
	)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = pgstore.Open(testContext(t), dsn, pgstore.Options{Shared: true}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open %d: %v", i, err)
		}
	}
	ctx := t.Context()
	id, err := stores[0].NextPlatformChatID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stores[1].PutUser(ctx, actors.UserRecord{UserID: "@alice:x", ChatCounter: 3}); err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}

	s := openTestStore(t, dsn, pgstore.Options{})
	u, err := s.GetUser(ctx, "@alice:x")
	if err != nil || u.ChatCounter != 3 {
		t.Fatalf("user after reopening = %+v, %v", u, err)
	}
	next, err := s.NextPlatformChatID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := mustAtoi(t, id), mustAtoi(t, next); b <= a {
		t.Fatalf("platform_chat_id after reopening = %d, not above %d handed out before", b, a)
	}
}

// TestOpenLockedDatabase: a store holds its database until Close, as a
// running bot holds its state directory; a shared one does not.
func TestOpenLockedDatabase(t *testing.T) {
	s, dsn := newTestStore(t)
	ctx := testContext(t)
	if other, err := pgstore.Open(ctx, dsn, pgstore.Options{LockWait: -1}); !errors.Is(err, pgstore.ErrLocked) {
		if other != nil {
			other.Close()
		}
		t.Fatalf("a second Open while the first is open: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	openTestStore(t, dsn, pgstore.Options{})
	shared := openTestStore(t, dsn, pgstore.Options{Shared: true})
	if _, err := shared.NextPlatformChatID(ctx); err != nil {
		t.Fatalf("a shared store beside the exclusive one: %v", err)
	}
}

// TestOpenRefusesBadInput: each way a start can be wrong stops Open with
// an error that says which, without echoing a password.
func TestOpenRefusesBadInput(t *testing.T) {
	dsn := newDatabase(t)
	newer := newDatabase(t)
	openTestStore(t, newer, pgstore.Options{}).Close()
	execSQL(t, newer, `UPDATE surfaces_schema SET version = version + 1`)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()

	tests := []struct {
		name  string
		dsn   string
		opts  pgstore.Options
		want  error  // errors.Is, when set
		words string // in the message
	}{
		{"a schema newer than the binary", newer, pgstore.Options{}, pgstore.ErrSchemaNewer,
			fmt.Sprintf("version %d, this binary knows up to %d", pgstore.SchemaVersion+1, pgstore.SchemaVersion)},
		{"a server that does not answer", fmt.Sprintf("postgres://u:sekrit@127.0.0.1:%d/db?sslmode=disable&connect_timeout=5", closedPort),
			pgstore.Options{}, pgstore.ErrUnreachable, "cannot be reached"},
		{"a DSN that does not parse", "postgres://u:sekrit@127.0.0.1:notaport/db", pgstore.Options{}, nil, "does not parse"},
		{"a negative event TTL", dsn, pgstore.Options{EventTTL: -time.Second}, nil, "negative event TTL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(testContext(t), 30*time.Second)
			defer cancel()
			s, err := pgstore.Open(ctx, tc.dsn, tc.opts)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Open: %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.words) {
				t.Errorf("Open: %q does not say %q", err, tc.words)
			}
			if strings.Contains(err.Error(), "sekrit") {
				t.Errorf("Open's error shows the password: %q", err)
			}
		})
	}
}

// TestRaiseAmongTakes: ids taken while others raise the sequence are never
// handed out twice, and each raise holds for every take after it.
func TestRaiseAmongTakes(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := t.Context()
	const takers, perTaker, raises = 4, 50, 20
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[string]bool{}
		errs []error
	)
	for range takers {
		wg.Go(func() {
			for range perTaker {
				id, err := s.NextPlatformChatID(ctx)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if seen[id] {
					errs = append(errs, fmt.Errorf("platform_chat_id %s handed out twice", id))
				}
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for i := range raises {
			to := uint64(10 * (i + 1))
			if err := s.RaisePlatformChatID(ctx, to); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			id, err := s.NextPlatformChatID(ctx)
			mu.Lock()
			if err != nil {
				errs = append(errs, err)
			} else if n := mustAtoi(t, id); uint64(n) <= to || seen[id] {
				errs = append(errs, fmt.Errorf("after raising to %d got %s (seen before: %v)", to, id, seen[id]))
			}
			seen[id] = true
			mu.Unlock()
		}
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// TestEventMarksExpire: a mark older than the TTL counts as absent, is
// renewed by the next MarkEventHandled, and is deleted at the next Open.
func TestEventMarksExpire(t *testing.T) {
	s, dsn := newTestStore(t)
	ctx := t.Context()
	for _, id := range []string{"$old", "$older"} {
		if first, err := s.MarkEventHandled(ctx, id); !first || err != nil {
			t.Fatalf("MarkEventHandled(%s) = %v, %v", id, first, err)
		}
	}
	execSQL(t, dsn, `UPDATE handled_events SET handled_at = now() - interval '8 days'`)
	if handled, err := s.EventHandled(ctx, "$old"); handled || err != nil {
		t.Fatalf("EventHandled of a mark past the TTL = %v, %v; want false", handled, err)
	}
	if first, err := s.MarkEventHandled(ctx, "$old"); !first || err != nil {
		t.Fatalf("MarkEventHandled of a mark past the TTL = %v, %v; want true", first, err)
	}
	if first, _ := s.MarkEventHandled(ctx, "$old"); first {
		t.Fatal("a renewed mark was first again")
	}
	openTestStore(t, dsn, pgstore.Options{Shared: true}) // expires at open
	var left []string
	queryStrings(t, dsn, `SELECT event_id FROM handled_events ORDER BY event_id`, &left)
	if strings.Join(left, ",") != "$old" {
		t.Fatalf("marks after an Open = %q, want only the renewed $old", left)
	}
}

// TestRecordsKeepAnyText: what a user types reaches the store unchanged,
// NUL included (PostgreSQL's jsonb would refuse it).
func TestRecordsKeepAnyText(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := t.Context()
	text := "nul\x00 tab\t emoji 🙂 quote\" backslash\\ <b>"
	in := actors.RoomRecord{RoomID: "!r/with%slash:x", OwnerID: "@o/../x:x",
		Queue: []actors.QueuedMessage{{EventID: "$q", Text: text}}}
	if err := s.PutRoom(ctx, in); err != nil {
		t.Fatal(err)
	}
	out, err := s.GetRoom(ctx, in.RoomID)
	if err != nil || len(out.Queue) != 1 || out.Queue[0].Text != text {
		t.Fatalf("GetRoom = %+v, %v", out, err)
	}
	rooms, err := s.ListRooms(ctx, in.OwnerID)
	if err != nil || len(rooms) != 1 {
		t.Fatalf("ListRooms = %d rooms, %v", len(rooms), err)
	}
}

// TestMethodsAfterCloseFail: every method after Close is ErrClosed.
func TestMethodsAfterCloseFail(t *testing.T) {
	s, _ := newTestStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	calls := map[string]func() error{
		"GetUser":            func() error { _, err := s.GetUser(ctx, "@a:x"); return err },
		"PutRoom":            func() error { return s.PutRoom(ctx, actors.RoomRecord{RoomID: "!r", OwnerID: "@a:x"}) },
		"NextPlatformChatID": func() error { _, err := s.NextPlatformChatID(ctx); return err },
		"MarkEventHandled":   func() error { _, err := s.MarkEventHandled(ctx, "$e"); return err },
		"Wipe":               func() error { return s.Wipe(ctx) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, pgstore.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// TestWipe: a local reset empties every table and restarts the sequence.
func TestWipe(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := t.Context()
	for _, err := range []error{
		s.PutUser(ctx, actors.UserRecord{UserID: "@a:x"}),
		s.PutRoom(ctx, actors.RoomRecord{RoomID: "!r", OwnerID: "@a:x"}),
		s.PutMeta(ctx, "k", "v"),
		s.CommitSync(ctx, "@bot:x", "batch", []string{"$e"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.NextPlatformChatID(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Wipe(ctx); err != nil {
		t.Fatal(err)
	}
	if users, _ := s.ListUsers(ctx); len(users) != 0 {
		t.Errorf("users after Wipe: %d", len(users))
	}
	if _, err := s.GetRoom(ctx, "!r"); !errors.Is(err, actors.ErrNotFound) {
		t.Errorf("GetRoom after Wipe: %v", err)
	}
	if b, _ := s.LoadNextBatch(ctx, "@bot:x"); b != "" {
		t.Errorf("position after Wipe: %q", b)
	}
	if h, _ := s.EventHandled(ctx, "$e"); h {
		t.Error("event mark after Wipe")
	}
	if id, _ := s.NextPlatformChatID(ctx); id != "1" {
		t.Errorf("first id after Wipe = %q, want 1", id)
	}
}

func mustAtoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
