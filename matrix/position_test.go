package matrix

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// commits is a memState that records each CommitSync, and can fail them.
type commits struct {
	*memState
	mu   sync.Mutex
	got  []string // "token: marks"
	fail error
}

func (c *commits) CommitSync(ctx context.Context, u, token string, handled []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	c.got = append(c.got, token+": "+joinIDs(handled))
	return c.memState.CommitSync(ctx, u, token, handled)
}

func (c *commits) stored() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

func joinIDs(ids []string) string {
	out := ""
	for i, id := range ids {
		if i > 0 {
			out += " "
		}
		out += id
	}
	return out
}

func newTestPosition(t *testing.T) (*position, *commits, *time.Time) {
	t.Helper()
	st := &commits{memState: newMemState()}
	p := newPosition(st, botID, time.Minute)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	return p, st, &now
}

// TestPositionWaitsForEveryAck: a response's position is stored only once
// each of its events is acked and the responses before it are stored; the
// events of a complete response are marked handled at once, whatever the
// responses before it wait for; nothing is stored twice.
func TestPositionWaitsForEveryAck(t *testing.T) {
	ctx := testContext(t)
	p, st, _ := newTestPosition(t)
	commit := func(want ...string) {
		t.Helper()
		if err := p.commit(ctx, false); err != nil {
			t.Fatal(err)
		}
		if got := st.stored(); !slices.Equal(got, want) {
			t.Fatalf("stored %q, want %q", got, want)
		}
	}
	b1 := p.open("s1")
	a := p.ack(b1, "$a")
	stranger := p.ack(b1, "") // acked, never marked
	p.seal(b1)
	b2 := p.open("s2")
	c := p.ack(b2, "$c")
	p.seal(b2)

	commit() // nothing acked yet
	c.Done()
	// s2 is complete but s1 is not: s2's events are marked handled at
	// once, the position stays.
	commit(": $c")
	a.Done()
	commit(": $c") // s1 still waits for the stranger's event
	stranger.Done()
	commit(": $c", "s2: $a")
	commit(": $c", "s2: $a") // nothing new

	// A batch not yet sealed is not complete, whatever was acked.
	b3 := p.open("s3")
	p.ack(b3, "$d").Done()
	commit(": $c", "s2: $a")
	p.seal(b3)
	commit(": $c", "s2: $a", "s3: $d")
}

// TestPositionGoesPastALostAck: an event whose ack never comes holds the
// position back for the wait, not for ever.
func TestPositionGoesPastALostAck(t *testing.T) {
	ctx := testContext(t)
	p, st, now := newTestPosition(t)
	b := p.open("s1")
	p.ack(b, "$lost") // never acked
	p.seal(b)
	*now = now.Add(time.Minute - time.Second)
	if err := p.commit(ctx, true); err != nil {
		t.Fatal(err)
	}
	if got := st.stored(); len(got) != 0 {
		t.Fatalf("stored %q before the wait was over", got)
	}
	*now = now.Add(time.Second)
	if err := p.commit(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := st.stored(); len(got) != 0 {
		t.Fatalf("stored %q without overdue (a graceful stop's commit)", got)
	}
	if err := p.commit(ctx, true); err != nil {
		t.Fatal(err)
	}
	if got, want := st.stored(), []string{"s1: $lost"}; !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
}

// TestPositionRetriesAFailedWrite: a write that fails is tried again with
// the same marks, and later batches join it.
func TestPositionRetriesAFailedWrite(t *testing.T) {
	ctx := testContext(t)
	p, st, _ := newTestPosition(t)
	b := p.open("s1")
	p.ack(b, "$a").Done()
	p.seal(b)
	st.fail = errors.New("disk full")
	if err := p.commit(ctx, false); err == nil {
		t.Fatal("commit succeeded with a failing store")
	}
	st.fail = nil
	b2 := p.open("s2")
	p.ack(b2, "$b").Done()
	p.seal(b2)
	if err := p.commit(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got, want := st.stored(), []string{"s2: $a $b"}; !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
}

// TestPositionRunCommitsWhenAcked: the running loop stores a position as
// soon as its last ack comes, without waiting for a tick, and an overdue
// one at a tick after the wait.
func TestPositionRunCommitsWhenAcked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &commits{memState: newMemState()}
		p := newPosition(st, botID, time.Hour)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); p.run(ctx) }()
		defer func() { cancel(); <-done }()

		b := p.open("s1")
		ack := p.ack(b, "$a")
		p.seal(b)
		ack.Done()
		synctest.Wait()
		if got, want := st.stored(), []string{"s1: $a"}; !slices.Equal(got, want) {
			t.Fatalf("stored %q after the last ack, want %q", got, want)
		}

		b = p.open("s2")
		p.ack(b, "$lost")
		p.seal(b)
		time.Sleep(time.Hour - time.Minute)
		synctest.Wait()
		if got := st.stored(); len(got) != 1 {
			t.Fatalf("stored %q before the wait was over", got)
		}
		time.Sleep(time.Hour) // virtual time: the next ticks find it overdue
		synctest.Wait()
		if got, want := st.stored(), []string{"s1: $a", "s2: $lost"}; !slices.Equal(got, want) {
			t.Fatalf("stored %q after the wait, want %q", got, want)
		}
	})
}
