package room

import (
	"context"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// typingLatch sends a room's typing state to Matrix one call at a time and
// in order, keeping only the latest wanted state while a call is in flight.
// Separate goroutines per call could deliver a refresh "on" after the final
// "off" and leave the indicator up after the reply.
//
// The room actor calls set from Receive (a short lock, never a wait); the
// sending runs in a task.
type typingLatch struct {
	mu      sync.Mutex
	want    *bool
	sending bool
}

func (l *typingLatch) set(c actor.Context, ctx context.Context, on bool, send func(ctx context.Context, on bool) error) {
	l.mu.Lock()
	l.want = &on
	if l.sending {
		l.mu.Unlock()
		return
	}
	l.sending = true
	l.mu.Unlock()
	kit.RunTask(c, ctx, func(ctx context.Context) any {
		ctx = context.WithoutCancel(ctx) // "off" must go out even while stopping
		for {
			l.mu.Lock()
			if l.want == nil {
				l.sending = false
				l.mu.Unlock()
				return nil
			}
			on := *l.want
			l.want = nil
			l.mu.Unlock()
			if err := send(ctx, on); err != nil {
				zerolog.Ctx(ctx).Debug().Err(err).Bool("typing", on).Msg("failed to set typing")
			}
		}
	})
}
