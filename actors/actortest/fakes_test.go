package actortest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

func TestMatrixWaitCallLooksOnlyAfterTheMark(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := actortest.NewMatrix()
		ctx := context.Background()
		if _, err := m.SendText(ctx, "!r", "all good"); err != nil {
			t.Fatal(err)
		}
		mark := m.Mark()
		isAllGood := func(c actortest.Call) bool { return c.Text == "all good" }
		if c, err := m.WaitCall(mark, time.Second, isAllGood); err == nil {
			t.Fatalf("a call from before the mark matched: %+v", c)
		} else if !strings.Contains(err.Error(), "after mark 1") {
			t.Fatalf("error %q does not say where it looked", err)
		}
		go func() {
			time.Sleep(time.Second)
			_, _ = m.SendText(ctx, "!r", "all good")
		}()
		c, err := m.WaitCall(mark, 2*time.Second, isAllGood)
		if err != nil || c.Seq != 2 {
			t.Fatalf("WaitCall = %+v, %v; want the second call", c, err)
		}
		if got := m.CallsSince(c.After()); len(got) != 0 {
			t.Fatalf("calls after the last one: %+v", got)
		}
		if got := m.CallsSince(0, "SendText"); len(got) != 2 {
			t.Fatalf("CallsSince(0) = %+v, want both sends", got)
		}
	})
}

func TestMatrixFailAndBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := actortest.NewMatrix()
		ctx := context.Background()
		boom := errors.New("boom")
		m.Fail("SendNotice", boom)
		if _, err := m.SendNotice(ctx, "!r", "x"); !errors.Is(err, boom) {
			t.Fatalf("SendNotice = %v, want boom", err)
		}
		m.Fail("SendNotice", nil)
		release := m.Block("SetTyping")
		done := make(chan error, 1)
		go func() { done <- m.SetTyping(ctx, "!r", true, time.Second) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("a blocked SetTyping returned %v", err)
		default:
		}
		release()
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatal("SetTyping still blocked after release")
		}
	})
}

func TestAgentsFakeShowsOverlappingTurns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		agents := actortest.NewAgents()
		ctx := context.Background()
		if _, ok := agents.TryNextConn(); ok {
			t.Fatal("a connection before any dial")
		}
		if _, err := agents.Dial(ctx, actors.AgentRef{ID: "a"}, "7"); err != nil {
			t.Fatal(err)
		}
		conn, err := agents.NextConn(time.Second)
		if err != nil || conn.ChatID != "7" {
			t.Fatalf("NextConn = %+v, %v", conn, err)
		}
		if _, ok := conn.TryNextTurn(); ok {
			t.Fatal("a turn before any was started")
		}
		if _, err := conn.Turn(ctx, actors.UserMessage{Text: "one"}); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Turn(ctx, actors.UserMessage{Text: "two"}); !errors.Is(err, actors.ErrTurnRunning) {
			t.Fatalf("second Turn = %v, want ErrTurnRunning", err)
		}
		first, _ := conn.NextTurn(time.Second)
		second, ok := conn.TryNextTurn()
		if first.Refused || !ok || !second.Refused || second.Msg.Text != "two" {
			t.Fatalf("turns %+v %+v, want one running and two refused", first, second)
		}
		if _, err := conn.NextTurn(time.Second); err == nil || !strings.Contains(err.Error(), "no turn on chat 7") {
			t.Fatalf("NextTurn with none waiting = %v", err)
		}
	})
}
