package actors_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

func TestTurnsWaitIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		turns := actors.WatchTurns(tt.System)
		defer turns.Close()
		tt.addRoom(alice, "!r", "101")
		if err := turns.WaitIdle(t.Context()); err != nil {
			t.Fatalf("idle tree: %v", err)
		}
		tt.say(alice, "!r", "long one")
		turn := tt.turn(tt.conn())
		if n := turns.Running(); n != 1 {
			t.Fatalf("%d turns running, want 1", n)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := turns.WaitIdle(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitIdle with a turn running = %v, want the deadline", err)
		}
		done := make(chan error, 1)
		go func() { done <- turns.WaitIdle(t.Context()) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("WaitIdle returned %v while the turn runs", err)
		default:
		}
		turn.Emit(actortest.Text("done"), actortest.End(0))
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatal("WaitIdle did not return once the turn ended")
		}
	})
}
