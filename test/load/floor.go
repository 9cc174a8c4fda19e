package load

import (
	"context"
	"fmt"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// floor is two users messaging each other on the same homeserver while the
// load runs: how long a message takes from one person to another there is
// the floor a relay (one hop in, one hop out) is measured against. b also
// answers each message the moment its sync shows it, as the barest relay
// would (no agent, no disk, no work): a's wait for that answer is the
// relay floor, what any bot on this homeserver would take at best.
type floor struct {
	a, b *harness.UserClient
	room id.RoomID
	// rooms are the rooms of bursts (addRooms), room first.
	rooms []id.RoomID

	mu    sync.Mutex
	took  []time.Duration
	relay []time.Duration
}

func newFloor(ctx context.Context, stack *harness.Stack) (*floor, error) {
	a, err := stack.Login(ctx, "floora")
	if err != nil {
		return nil, err
	}
	b, err := stack.Login(ctx, "floorb")
	if err != nil {
		_ = a.Close()
		return nil, err
	}
	f := &floor{a: a, b: b}
	b.AcceptInvites(true)
	if f.room, err = a.CreateDM(ctx, b.UserID()); err != nil {
		f.close()
		return nil, err
	}
	if err := b.WaitJoined(ctx, f.room); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// run sends a message from a to b every pace until ctx ends, recording how
// long b took to see each, and how long a took to see b's answer to it
// (the relay floor).
func (f *floor) run(ctx context.Context, pace time.Duration) {
	for i := 0; ctx.Err() == nil; i++ {
		start := time.Now()
		if !f.pass(ctx, f.a, f.b, fmt.Sprintf("floor %d", i), start, &f.took) {
			return
		}
		if !f.pass(ctx, f.b, f.a, fmt.Sprintf("floor answer %d", i), start, &f.relay) {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(pace):
		}
	}
}

// pass sends text from one user and waits for the other to see it, adding
// the time since start to samples; false when either step failed, and then
// nothing is added (a sample that never arrived is not a latency).
func (f *floor) pass(ctx context.Context, from, to *harness.UserClient, text string, start time.Time, samples *[]time.Duration) bool {
	if f.send(ctx, from, to, f.room, text) != nil {
		return false
	}
	f.mu.Lock()
	*samples = append(*samples, time.Since(start))
	f.mu.Unlock()
	return true
}

func (f *floor) latencies() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.took...)
}

// relayed is the relay floor's samples: a's message to b's answer seen.
func (f *floor) relayed() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.relay...)
}

func (f *floor) close() {
	_ = f.a.Close()
	_ = f.b.Close()
}
