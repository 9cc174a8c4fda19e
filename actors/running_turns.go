package actors

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
)

// RunningTurns follows which rooms have a turn running, from the TurnStarted,
// TurnEnded and RoomRestarted events of an actor system. A graceful stop
// uses it to let running turns finish before the tree stops (PRODUCT R8.4).
// It is safe for concurrent use.
type RunningTurns struct {
	system *actor.ActorSystem
	sub    *eventstream.Subscription

	mu      sync.Mutex
	running map[string]bool
	changed chan struct{}
}

// WatchTurns starts following the turns of system; Close stops it.
func WatchTurns(system *actor.ActorSystem) *RunningTurns {
	t := &RunningTurns{system: system, running: map[string]bool{}, changed: make(chan struct{})}
	t.sub = system.EventStream.Subscribe(t.observe)
	return t
}

func (t *RunningTurns) observe(evt any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e := evt.(type) {
	case *TurnStarted:
		t.running[e.RoomID] = true
	case *TurnEnded:
		delete(t.running, e.RoomID)
	case *RoomRestarted:
		delete(t.running, e.RoomID) // the crash cut its turn; no TurnEnded follows
	default:
		return
	}
	close(t.changed)
	t.changed = make(chan struct{})
}

// Running is how many rooms have a turn running.
func (t *RunningTurns) Running() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.running)
}

// WaitIdle returns nil once no turn is running, or ctx's error if that does
// not happen before ctx ends.
func (t *RunningTurns) WaitIdle(ctx context.Context) error {
	for {
		t.mu.Lock()
		n, changed := len(t.running), t.changed
		t.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops following the events.
func (t *RunningTurns) Close() { t.system.EventStream.Unsubscribe(t.sub) }

// Drain tells the room actors of a tree to start no new turn. A graceful
// stop starts it before letting the running turns finish (PRODUCT R8.4),
// so the wait ends with them; the messages still queued stay in their
// room's record and run after the next start. It is safe for concurrent use.
type Drain struct{ on atomic.Bool }

// Start stops new turns from starting; it cannot be undone.
func (d *Drain) Start() { d.on.Store(true) }

// Draining reports whether Start was called; a nil Drain never drains.
func (d *Drain) Draining() bool { return d != nil && d.on.Load() }

type taskGroupKey struct{}

// WithTaskGroup makes every task the tree started under ctx count in wg, so
// that a shutdown can wait for the last writes before closing the store.
func WithTaskGroup(ctx context.Context, wg *sync.WaitGroup) context.Context {
	return context.WithValue(ctx, taskGroupKey{}, wg)
}

// TaskGroup is the task group WithTaskGroup put in ctx, nil if none.
func TaskGroup(ctx context.Context) *sync.WaitGroup {
	wg, _ := ctx.Value(taskGroupKey{}).(*sync.WaitGroup)
	return wg
}
