package actors

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
)

// runTask runs f in a goroutine owned by the calling actor and sends its
// result (if not nil) back to the actor as a message. This is how actors do
// network and disk work without blocking Receive. ctx is the actor's context:
// it is cancelled when the actor stops or restarts, and results that arrive
// after that are either dead letters or ignored by the new incarnation.
//
// A panic in f becomes a *taskPanicked message instead of killing the
// process: the goroutine is outside the actor's supervision.
func runTask(c actor.Context, ctx context.Context, f func(ctx context.Context) any) {
	system, self := c.ActorSystem(), c.Self()
	if wg, ok := ctx.Value(taskGroupKey{}).(*sync.WaitGroup); ok {
		wg.Add(1)
		f = countDone(wg, f)
	}
	go func() {
		res := safeCall(ctx, f)
		if res != nil {
			system.Root.Send(self, res)
		}
	}()
}

func countDone(wg *sync.WaitGroup, f func(ctx context.Context) any) func(ctx context.Context) any {
	return func(ctx context.Context) any {
		defer wg.Done()
		return f(ctx)
	}
}

type taskGroupKey struct{}

// WithTaskGroup makes every task the tree started under ctx count in wg, so
// that a shutdown can wait for the last writes before closing the store.
func WithTaskGroup(ctx context.Context, wg *sync.WaitGroup) context.Context {
	return context.WithValue(ctx, taskGroupKey{}, wg)
}

func safeCall(ctx context.Context, f func(ctx context.Context) any) (res any) {
	defer func() {
		if r := recover(); r != nil {
			res = &taskPanicked{value: fmt.Sprint(r), stack: string(debug.Stack())}
		}
	}()
	return f(ctx)
}

// taskPanicked reports a panic in a task goroutine; the actor re-panics with
// it inside Receive, so its supervisor handles it like any other crash.
type taskPanicked struct {
	value string
	stack string
}

// sendLater sends msg to the calling actor after d. The returned timer can be
// stopped; a message that fires anyway is recognised as stale by its ids.
func sendLater(c actor.Context, d time.Duration, msg any) *time.Timer {
	system, self := c.ActorSystem(), c.Self()
	return time.AfterFunc(d, func() { system.Root.Send(self, msg) })
}

// sendNotice posts a bot notice and logs a failure: there is no better place
// to report a failure to post in the room itself. It blocks; call it from a
// task, or through noticeTask.
func sendNotice(ctx context.Context, m MatrixSender, roomID, text string) {
	if _, err := m.SendNotice(ctx, roomID, text); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("room_id", roomID).Msg("failed to send notice")
	}
}

// noticeTask posts a notice from an actor without blocking its Receive. The
// notice goes out even if the actor stops meanwhile.
func noticeTask(c actor.Context, ctx context.Context, m MatrixSender, roomID, text string) {
	runTask(c, ctx, func(ctx context.Context) any {
		sendNotice(context.WithoutCancel(ctx), m, roomID, text)
		return nil
	})
}

// markReadTask sends the bot's read receipt for eventID without blocking
// the actor; a failure is only logged (the receipt is a courtesy).
func markReadTask(c actor.Context, ctx context.Context, m MatrixSender, roomID, eventID string) {
	if eventID == "" {
		return
	}
	runTask(c, ctx, func(ctx context.Context) any {
		if err := m.MarkRead(context.WithoutCancel(ctx), roomID, eventID); err != nil {
			zerolog.Ctx(ctx).Debug().Err(err).Str("room_id", roomID).Msg("failed to send a read receipt")
		}
		return nil
	})
}
