package persistence

import (
	"context"
	"strconv"
	"sync"
	"testing"
)

func TestSequenceMonotonicAcrossReopen(t *testing.T) {
	s, dir := newTestStore(t)
	ctx := context.Background()
	want := uint64(1)
	take := func(s *Store) {
		t.Helper()
		id, err := s.NextPlatformChatID(ctx)
		if err != nil {
			t.Fatalf("NextPlatformChatID: %v", err)
		}
		if id != strconv.FormatUint(want, 10) {
			t.Fatalf("NextPlatformChatID = %q, want %d", id, want)
		}
		want++
	}
	for range 3 {
		take(s)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openTestStore(t, dir)
	for range 3 {
		take(s)
	}
}

func TestSequenceConcurrentCallersGetDistinctIDs(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	const workers, perWorker = 8, 25
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
		errs = make(chan error, workers*perWorker)
	)
	for range workers {
		wg.Go(func() {
			for range perWorker {
				id, err := s.NextPlatformChatID(ctx)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				seen[id]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("NextPlatformChatID: %v", err)
	}
	if len(seen) != workers*perWorker {
		t.Fatalf("got %d distinct ids, want %d", len(seen), workers*perWorker)
	}
	// The counter hands out a gap-free range 1..N.
	for i := 1; i <= workers*perWorker; i++ {
		if n := seen[strconv.Itoa(i)]; n != 1 {
			t.Fatalf("id %d handed out %d times, want once", i, n)
		}
	}
}
