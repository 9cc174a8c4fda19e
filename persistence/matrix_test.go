package persistence

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func TestSyncTokens(t *testing.T) {
	s, dir := newTestStore(t)
	ctx := context.Background()
	const bot, other = "@bot:x", "@other:x"

	// Nothing stored yet reads as "" without error (mautrix SyncStore contract).
	empty := map[string]func() (string, error){
		"SyncToken":     func() (string, error) { return s.SyncToken(ctx) },
		"LoadFilterID":  func() (string, error) { return s.LoadFilterID(ctx, bot) },
		"LoadNextBatch": func() (string, error) { return s.LoadNextBatch(ctx, bot) },
	}
	for name, get := range empty {
		if v, err := get(); v != "" || err != nil {
			t.Fatalf("%s on empty store = %q, %v; want \"\", nil", name, v, err)
		}
	}

	if err := s.SetSyncToken(ctx, "s1_token"); err != nil {
		t.Fatalf("SetSyncToken: %v", err)
	}
	if err := s.SetSyncToken(ctx, "s2_token"); err != nil {
		t.Fatalf("SetSyncToken: %v", err)
	}
	if err := s.SaveFilterID(ctx, bot, "filter-1"); err != nil {
		t.Fatalf("SaveFilterID: %v", err)
	}
	if err := s.SaveNextBatch(ctx, bot, "batch-1"); err != nil {
		t.Fatalf("SaveNextBatch: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openTestStore(t, dir)

	tests := []struct {
		name string
		get  func() (string, error)
		want string
	}{
		{"SyncToken", func() (string, error) { return s.SyncToken(ctx) }, "s2_token"},
		{"LoadFilterID", func() (string, error) { return s.LoadFilterID(ctx, bot) }, "filter-1"},
		{"LoadNextBatch", func() (string, error) { return s.LoadNextBatch(ctx, bot) }, "batch-1"},
		{"LoadNextBatch other user", func() (string, error) { return s.LoadNextBatch(ctx, other) }, ""},
		{"LoadFilterID other user", func() (string, error) { return s.LoadFilterID(ctx, other) }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.get()
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestMarkEventHandled(t *testing.T) {
	s, dir := newTestStore(t)
	ctx := context.Background()
	mark := func(s *Store, id string, want bool) {
		t.Helper()
		first, err := s.MarkEventHandled(ctx, id)
		if err != nil {
			t.Fatalf("MarkEventHandled(%q): %v", id, err)
		}
		if first != want {
			t.Fatalf("MarkEventHandled(%q) = %v, want %v", id, first, want)
		}
	}
	mark(s, "$a", true)
	mark(s, "$a", false)
	mark(s, "$b", true)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openTestStore(t, dir)
	mark(s, "$a", false)
	mark(s, "$b", false)
	mark(s, "$c", true)

	if _, err := s.MarkEventHandled(ctx, ""); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("MarkEventHandled(\"\") = %v, want ErrInvalidRecord", err)
	}
}

func TestMarkEventHandledConcurrentlyHasOneWinner(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	var (
		firsts atomic.Int32
		wg     sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			first, err := s.MarkEventHandled(ctx, "$race")
			if err != nil {
				t.Errorf("MarkEventHandled: %v", err)
				return
			}
			if first {
				firsts.Add(1)
			}
		})
	}
	wg.Wait()
	if n := firsts.Load(); n != 1 {
		t.Fatalf("%d callers were first, want exactly 1", n)
	}
}

// The mark carries the configured TTL, so the set of handled ids stays
// "recent" without a sweeper. Checked on the entry's expiry, not by waiting.
func TestMarkEventHandledSetsTTL(t *testing.T) {
	tests := []struct {
		name string
		ttl  time.Duration
		want time.Duration
	}{
		{name: "default", ttl: 0, want: DefaultEventTTL},
		{name: "custom", ttl: time.Hour, want: time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(testContext(t), t.TempDir(), Options{EventTTL: tc.ttl})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			before := time.Now()
			if _, err := s.MarkEventHandled(context.Background(), "$e"); err != nil {
				t.Fatalf("MarkEventHandled: %v", err)
			}
			after := time.Now()
			var expires uint64
			err = s.db.View(func(txn *badger.Txn) error {
				item, err := txn.Get(eventKey("$e"))
				if err != nil {
					return err
				}
				expires = item.ExpiresAt()
				return nil
			})
			if err != nil {
				t.Fatalf("read mark: %v", err)
			}
			lo := uint64(before.Add(tc.want).Unix())
			hi := uint64(after.Add(tc.want).Unix()) + 1
			if expires < lo || expires > hi {
				t.Fatalf("ExpiresAt = %d, want within [%d, %d]", expires, lo, hi)
			}
		})
	}
}

// TestCommitSync: the marks and the position of a commit survive a reopen,
// more marks than one transaction holds included, and each mark carries the
// event TTL like MarkEventHandled's.
func TestCommitSync(t *testing.T) {
	s, dir := newTestStore(t)
	ctx := testContext(t)
	const bot = "@bot:x"
	ids := make([]string, 2*markChunk+7)
	for i := range ids {
		ids[i] = fmt.Sprintf("$e%d", i)
	}
	before := time.Now()
	if err := s.CommitSync(ctx, bot, "s9", ids); err != nil {
		t.Fatalf("CommitSync: %v", err)
	}
	if err := s.CommitSync(ctx, bot, "s10", nil); err != nil {
		t.Fatalf("CommitSync without marks: %v", err)
	}
	if err := s.CommitSync(ctx, bot, "", []string{"$marked-only"}); err != nil {
		t.Fatalf("CommitSync without a position: %v", err)
	}
	var expires uint64
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(eventKey(ids[len(ids)-1]))
		if err != nil {
			return err
		}
		expires = item.ExpiresAt()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if min := uint64(before.Add(DefaultEventTTL).Unix()) - 1; expires < min {
		t.Fatalf("mark expires at %d, want at least %d (the event TTL)", expires, min)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	if got, err := s.LoadNextBatch(ctx, bot); got != "s10" || err != nil {
		t.Fatalf("LoadNextBatch = %q, %v; want s10", got, err)
	}
	for _, id := range []string{ids[0], ids[markChunk], ids[len(ids)-1], "$marked-only"} {
		if handled, err := s.EventHandled(ctx, id); !handled || err != nil {
			t.Fatalf("EventHandled(%s) = %v, %v after a reopen; want true", id, handled, err)
		}
	}
	if handled, _ := s.EventHandled(ctx, "$other"); handled {
		t.Fatal("an event never committed reads as handled")
	}
}
