package kit

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"github.com/surfaces-bot/surfaces/actors"
)

// RunTask runs f in a goroutine owned by the calling actor and sends its
// result (if not nil) back to the actor as a message. This is how actors do
// network and disk work without blocking Receive. ctx is the actor's context:
// it is cancelled when the actor stops or restarts, and results that arrive
// after that are either dead letters or ignored by the new incarnation.
//
// A panic in f becomes a *TaskPanicked message instead of killing the
// process: the goroutine is outside the actor's supervision.
func RunTask(c actor.Context, ctx context.Context, f func(ctx context.Context) any) {
	system, self := c.ActorSystem(), c.Self()
	if wg := actors.TaskGroup(ctx); wg != nil {
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

func safeCall(ctx context.Context, f func(ctx context.Context) any) (res any) {
	defer func() {
		if r := recover(); r != nil {
			res = &TaskPanicked{Value: fmt.Sprint(r), Stack: string(debug.Stack())}
		}
	}()
	return f(ctx)
}

// TaskPanicked reports a panic in a task goroutine; the actor re-panics with
// it inside Receive, so its supervisor handles it like any other crash.
type TaskPanicked struct {
	Value string
	Stack string
}

// SendLater sends msg to the calling actor after d. The returned timer can be
// stopped; a message that fires anyway is recognised as stale by its ids.
func SendLater(c actor.Context, d time.Duration, msg any) *time.Timer {
	system, self := c.ActorSystem(), c.Self()
	return time.AfterFunc(d, func() { system.Root.Send(self, msg) })
}

// SendNotice posts a bot notice and logs a failure: there is no better place
// to report a failure to post in the room itself. It blocks; call it from a
// task, or through NoticeTask.
func SendNotice(ctx context.Context, m actors.MatrixSender, roomID, text string) {
	if _, err := m.SendNotice(ctx, roomID, text); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("room_id", roomID).Msg("failed to send notice")
	}
}

// NoticeTask posts a notice from an actor without blocking its Receive. The
// notice goes out even if the actor stops meanwhile.
func NoticeTask(c actor.Context, ctx context.Context, m actors.MatrixSender, roomID, text string) {
	RunTask(c, ctx, func(ctx context.Context) any {
		SendNotice(context.WithoutCancel(ctx), m, roomID, text)
		return nil
	})
}

// MarkReadTask sends the bot's read receipt for eventID without blocking
// the actor; a failure is only logged (the receipt is a courtesy).
func MarkReadTask(c actor.Context, ctx context.Context, m actors.MatrixSender, roomID, eventID string) {
	if eventID == "" {
		return
	}
	RunTask(c, ctx, func(ctx context.Context) any {
		if err := m.MarkRead(context.WithoutCancel(ctx), roomID, eventID); err != nil {
			zerolog.Ctx(ctx).Debug().Err(err).Str("room_id", roomID).Msg("failed to send a read receipt")
		}
		return nil
	})
}
