package agents

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
)

// turnBuffer is how many events a turn holds for a slow consumer before the
// read loop waits for it (and so stops reading the socket: TCP pushes back on
// the agent instead of the bot buffering without bound).
const turnBuffer = 64

// turn is the delivery side of one turn. Every send on out happens with mu
// held and ended false, or after ended was set by the one finish that won;
// so out gets exactly one terminal event and is closed exactly once.
type turn struct {
	ctx         context.Context
	out         chan actors.AgentEvent
	idleTimeout time.Duration
	idle        *time.Timer
	stopWatch   func() bool
	// sent is set just before USER_MESSAGE is written; events read earlier
	// cannot answer it.
	sent atomic.Bool

	mu    sync.Mutex
	ended bool
	// waiting is set while the agent waits for the person to answer a
	// confirmation request: the agent is silent by design, so the idle
	// timer is paused until the answer is sent.
	waiting bool
}

// awaitAnswer pauses the idle timer: the agent asked a question.
func (t *turn) awaitAnswer() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.waiting = true
	t.idle.Stop()
}

// answered restarts the idle timer once the answer went out.
func (t *turn) answered() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.waiting && !t.ended {
		t.waiting = false
		t.idle.Reset(t.idleTimeout)
	}
}

// newTurn starts the idle timer; onIdle runs when it fires and onCancel when
// ctx is done, each in its own goroutine, until finish stops them.
func newTurn(ctx context.Context, idleTimeout time.Duration, onIdle func(*turn), onCancel func(*turn)) *turn {
	t := &turn{ctx: ctx, out: make(chan actors.AgentEvent, turnBuffer), idleTimeout: idleTimeout}
	t.idle = time.AfterFunc(idleTimeout, func() { onIdle(t) })
	t.stopWatch = context.AfterFunc(ctx, func() { onCancel(t) })
	return t
}

// markSent records that USER_MESSAGE is about to go out.
func (t *turn) markSent() { t.sent.Store(true) }

func (t *turn) isSent() bool { return t.sent.Load() }

// touch resets the idle timer: the agent just said something.
func (t *turn) touch() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.ended && !t.waiting {
		t.idle.Reset(t.idleTimeout)
	}
}

// progress delivers a non-terminal event. It waits for the consumer, but
// gives up when the turn's context or the connection (connDone) ends, so the
// read loop is never stuck on a consumer that went away.
func (t *turn) progress(ev actors.AgentEvent, connDone <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return
	}
	select {
	case t.out <- ev:
	case <-t.ctx.Done():
	case <-connDone:
	}
}

// finish delivers the terminal event and closes the channel. Only the first
// call does anything; it reports whether it was that call. It never blocks:
// when the buffer is full the delivery continues in a goroutine that ends
// when the consumer reads or the turn's context ends.
func (t *turn) finish(ev actors.AgentEvent) bool {
	t.mu.Lock()
	if t.ended {
		t.mu.Unlock()
		return false
	}
	t.ended = true
	t.mu.Unlock()
	t.idle.Stop()
	t.stopWatch()
	select {
	case t.out <- ev:
		close(t.out)
	default:
		go func() {
			defer close(t.out)
			select {
			case t.out <- ev:
			case <-t.ctx.Done():
			}
		}()
	}
	return true
}
