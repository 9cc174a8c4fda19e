package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
)

// State is the part of a store the Matrix side uses (matrix.StateStore's
// own methods) and the operator tools' DeleteMeta.
type State interface {
	SaveFilterID(ctx context.Context, userID, filterID string) error
	LoadFilterID(ctx context.Context, userID string) (string, error)
	SaveNextBatch(ctx context.Context, userID, nextBatch string) error
	LoadNextBatch(ctx context.Context, userID string) (string, error)
	MarkEventHandled(ctx context.Context, eventID string) (bool, error)
	CommitSync(ctx context.Context, userID, nextBatch string, handled []string) error
	EventHandled(ctx context.Context, eventID string) (bool, error)
	GetMeta(ctx context.Context, name string) (string, error)
	PutMeta(ctx context.Context, name, value string) error
	DeleteMeta(ctx context.Context, name string) error
	AddToInbox(ctx context.Context, key string, body []byte) (added bool, err error)
	RemoveFromInbox(ctx context.Context, key string) error
	Inbox(ctx context.Context) (keys []string, bodies [][]byte, err error)
}

// RunStateContract runs the behaviour every backend's State must have
// against stores made by open (each subtest gets a fresh, empty store):
//
//   - Nothing stored yet reads as "" without error for the sync values
//     (mautrix's SyncStore contract), and as an error wrapping
//     actors.ErrNotFound for a meta value.
//   - Sync values are kept per user.
//   - MarkEventHandled is true the first time only, for exactly one of
//     many concurrent callers, and refuses an empty id.
//   - CommitSync marks every id it is given (empty and repeated ids
//     included) and moves the position, unless the position is empty.
//   - The inbox keeps transactions in the order they were added, a key
//     once (the body kept first stays), until removed; it refuses an empty
//     key and a body that is not JSON.
func RunStateContract(t *testing.T, open func(t *testing.T) State) {
	t.Helper()
	t.Run("SyncValues", func(t *testing.T) { syncValues(t, open(t)) })
	t.Run("MarkEventHandled", func(t *testing.T) { markEventHandled(t, open(t)) })
	t.Run("MarkEventHandledConcurrently", func(t *testing.T) { markConcurrently(t, open(t)) })
	t.Run("CommitSync", func(t *testing.T) { commitSync(t, open(t)) })
	t.Run("Meta", func(t *testing.T) { meta(t, open(t)) })
	t.Run("Inbox", func(t *testing.T) { inbox(t, open(t)) })
}

const bot, other = "@bot:example.org", "@other:example.org"

func syncValues(t *testing.T, s State) {
	ctx := t.Context()
	for name, get := range map[string]func(string) (string, error){
		"LoadFilterID":  func(u string) (string, error) { return s.LoadFilterID(ctx, u) },
		"LoadNextBatch": func(u string) (string, error) { return s.LoadNextBatch(ctx, u) },
	} {
		if v, err := get(bot); v != "" || err != nil {
			t.Fatalf("%s on an empty store = %q, %v; want \"\", nil", name, v, err)
		}
	}
	must(t, s.SaveFilterID(ctx, bot, "filter-1"))
	must(t, s.SaveNextBatch(ctx, bot, "batch-1"))
	must(t, s.SaveNextBatch(ctx, bot, "batch-2"))
	tests := []struct {
		name string
		get  func() (string, error)
		want string
	}{
		{"filter id", func() (string, error) { return s.LoadFilterID(ctx, bot) }, "filter-1"},
		{"next batch, overwritten", func() (string, error) { return s.LoadNextBatch(ctx, bot) }, "batch-2"},
		{"another user's filter id", func() (string, error) { return s.LoadFilterID(ctx, other) }, ""},
		{"another user's next batch", func() (string, error) { return s.LoadNextBatch(ctx, other) }, ""},
	}
	for _, tc := range tests {
		if got, err := tc.get(); got != tc.want || err != nil {
			t.Errorf("%s = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func markEventHandled(t *testing.T, s State) {
	ctx := t.Context()
	if handled, err := s.EventHandled(ctx, "$a"); handled || err != nil {
		t.Fatalf("EventHandled before any mark = %v, %v; want false", handled, err)
	}
	for i, want := range []bool{true, false, false} {
		first, err := s.MarkEventHandled(ctx, "$a")
		if err != nil || first != want {
			t.Fatalf("MarkEventHandled call %d = %v, %v; want %v", i+1, first, err, want)
		}
	}
	if handled, err := s.EventHandled(ctx, "$a"); !handled || err != nil {
		t.Fatalf("EventHandled after a mark = %v, %v; want true", handled, err)
	}
	if handled, _ := s.EventHandled(ctx, "$b"); handled {
		t.Fatal("EventHandled of an unmarked event is true")
	}
	if _, err := s.MarkEventHandled(ctx, ""); err == nil {
		t.Fatal("MarkEventHandled(\"\") succeeded, want an error")
	}
}

func markConcurrently(t *testing.T, s State) {
	ctx := t.Context()
	const callers, events = 8, 20
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		firsts = map[string]int{}
		errs   []error
	)
	for range callers {
		wg.Go(func() {
			for e := range events {
				id := fmt.Sprintf("$e%d", e)
				first, err := s.MarkEventHandled(ctx, id)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if first {
					firsts[id]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for e := range events {
		id := fmt.Sprintf("$e%d", e)
		if firsts[id] != 1 {
			t.Errorf("%d of %d concurrent callers were first to mark %s, want exactly 1", firsts[id], callers, id)
		}
	}
}

func commitSync(t *testing.T, s State) {
	ctx := t.Context()
	must(t, s.CommitSync(ctx, bot, "batch-1", []string{"$x", "", "$y", "$x"}))
	for _, id := range []string{"$x", "$y"} {
		if handled, err := s.EventHandled(ctx, id); !handled || err != nil {
			t.Errorf("after CommitSync EventHandled(%s) = %v, %v; want true", id, handled, err)
		}
		if first, err := s.MarkEventHandled(ctx, id); first || err != nil {
			t.Errorf("after CommitSync MarkEventHandled(%s) = %v, %v; want false (already handled)", id, first, err)
		}
	}
	if got, err := s.LoadNextBatch(ctx, bot); got != "batch-1" || err != nil {
		t.Fatalf("position after CommitSync = %q, %v; want batch-1", got, err)
	}
	// Marks only: the position stays.
	must(t, s.CommitSync(ctx, bot, "", []string{"$z"}))
	if got, _ := s.LoadNextBatch(ctx, bot); got != "batch-1" {
		t.Fatalf("CommitSync with an empty position moved it to %q", got)
	}
	if handled, _ := s.EventHandled(ctx, "$z"); !handled {
		t.Fatal("CommitSync with an empty position did not mark its events")
	}
	// Nothing to mark: the position still moves.
	must(t, s.CommitSync(ctx, bot, "batch-2", nil))
	if got, _ := s.LoadNextBatch(ctx, bot); got != "batch-2" {
		t.Fatalf("CommitSync without events left the position at %q, want batch-2", got)
	}
}

func meta(t *testing.T, s State) {
	ctx := t.Context()
	if _, err := s.GetMeta(ctx, "matrix.device_id"); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("GetMeta of a missing value: %v, want actors.ErrNotFound", err)
	}
	must(t, s.PutMeta(ctx, "matrix.device_id", "DEV1"))
	must(t, s.PutMeta(ctx, "matrix.device_id", "DEV2"))
	if v, err := s.GetMeta(ctx, "matrix.device_id"); v != "DEV2" || err != nil {
		t.Fatalf("GetMeta after two puts = %q, %v; want DEV2", v, err)
	}
	must(t, s.DeleteMeta(ctx, "matrix.device_id"))
	must(t, s.DeleteMeta(ctx, "never.stored"))
	if _, err := s.GetMeta(ctx, "matrix.device_id"); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("GetMeta after DeleteMeta: %v, want actors.ErrNotFound", err)
	}
	if err := s.PutMeta(ctx, "", "x"); err == nil {
		t.Fatal("PutMeta with an empty name succeeded, want an error")
	}
}

func inbox(t *testing.T, s State) {
	ctx := t.Context()
	if keys, _, err := s.Inbox(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("a new store's inbox: %q, %v; want empty", keys, err)
	}
	// Keys that sort against the order they come in, one with a slash.
	for i, key := range []string{"txn:9", "txn:10/a", "txn:1"} {
		added, err := s.AddToInbox(ctx, key, fmt.Appendf(nil, `{"events":[{"n":%d}]}`, i))
		if err != nil || !added {
			t.Fatalf("AddToInbox(%q) = %v, %v; want added", key, added, err)
		}
	}
	added, err := s.AddToInbox(ctx, "txn:10/a", []byte(`{"events":[]}`))
	if err != nil || added {
		t.Fatalf("AddToInbox of a kept key = %v, %v; want not added", added, err)
	}
	keys, bodies, err := s.Inbox(ctx)
	must(t, err)
	want := []string{"txn:9", "txn:10/a", "txn:1"}
	if fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Fatalf("Inbox keys %q, want %q (the order they came in)", keys, want)
	}
	if string(bodies[1]) != `{"events":[{"n":1}]}` {
		t.Fatalf("the body of txn:10/a is %s, want the one kept first", bodies[1])
	}
	must(t, s.RemoveFromInbox(ctx, "txn:10/a"))
	must(t, s.RemoveFromInbox(ctx, "never kept"))
	if keys, _, _ := s.Inbox(ctx); fmt.Sprint(keys) != fmt.Sprint([]string{"txn:9", "txn:1"}) {
		t.Fatalf("Inbox after a removal: %q, want [txn:9 txn:1]", keys)
	}
	if _, err := s.AddToInbox(ctx, "", []byte(`{}`)); err == nil {
		t.Fatal("AddToInbox with an empty key succeeded, want an error")
	}
	if _, err := s.AddToInbox(ctx, "txn:bad", []byte(`{"events":`)); err == nil {
		t.Fatal("AddToInbox of a body that is not JSON succeeded, want an error")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
