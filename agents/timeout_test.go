package agents

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/test/wait"
)

// The tests in this file run inside a synctest bubble over in-memory pipes,
// so the timeouts are virtual: they take no wall time and cannot flake on a
// busy machine.

var virtualOpts = Options{ConnectTimeout: 5 * time.Second, StatusTimeout: 5 * time.Second,
	TurnIdleTimeout: 10 * time.Second, PingInterval: -1}

func TestIdleTimeoutEndsTurn(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		a := newPipeAgent(t)
		c, s := a.dial(virtualOpts)
		ch := startTurn(t, c, actors.UserMessage{Text: "x"})
		s.recv()
		s.send(`{"type":"AGENT_EVENT_TEXT_CHUNK","text":"thinking"}`)
		// The agent now says nothing more.
		evs := collect(t, ch)
		if ev := terminal(t, evs); ev.Kind != actors.AgentFailed || !errors.Is(ev.Err, actors.ErrAgentTimeout) {
			t.Fatalf("terminal = %+v, want ErrAgentTimeout", ev)
		}
		waitDone(t, c)
		if !errors.Is(c.Err(), actors.ErrAgentTimeout) {
			t.Fatalf("Err = %v", c.Err())
		}
	})
}

func TestIdleTimerResetsOnEveryEvent(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		a := newPipeAgent(t)
		c, s := a.dial(virtualOpts)
		start := time.Now()
		ch := startTurn(t, c, actors.UserMessage{Text: "x"})
		s.recv()
		// Five events 6 s apart: 30 s in all, three idle timeouts' worth,
		// but never 10 s of silence.
		for range 5 {
			time.Sleep(6 * time.Second)
			s.send(`{"type":"AGENT_EVENT_CUSTOM_UPDATE","text":"working"}`)
		}
		s.send(`{"type":"AGENT_EVENT_END"}`)
		evs := collect(t, ch)
		if ev := terminal(t, evs); ev.Kind != actors.AgentEnd || len(evs) != 6 {
			t.Fatalf("events = %+v", evs)
		}
		if elapsed := time.Since(start); elapsed < 3*virtualOpts.TurnIdleTimeout {
			// Virtual time: this checks the test itself, not the machine.
			t.Fatalf("virtual elapsed %s; the test did not outlast the idle timeout", elapsed)
		}
	})
}

func TestStatusTimeout(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		a := newPipeAgent(t)
		a.noStatus = true
		_, err := a.dialer(virtualOpts).Dial(context.Background(), a.ref(), "1")
		if !errors.Is(err, actors.ErrAgentUnavailable) {
			t.Fatalf("Dial err = %v, want ErrAgentUnavailable", err)
		}
	})
}

func TestStatusJustInTime(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		a := newPipeAgent(t)
		a.greet = func(s *agentSide) {
			// Stop with the connection, so that a failing Dial leaves no
			// goroutine behind in the bubble.
			select {
			case <-time.After(virtualOpts.StatusTimeout - time.Second):
				s.trySend(`{"type":"STATUS"}`)
			case <-s.ended:
			}
		}
		c, err := a.dialer(virtualOpts).Dial(context.Background(), a.ref(), "1")
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		_ = c.Close()
	})
}

func TestPingsKeepConnectionOpen(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		a := newPipeAgent(t)
		opts := virtualOpts
		opts.PingInterval = time.Second
		c, _ := a.dial(opts)
		time.Sleep(time.Minute)
		synctest.Wait()
		if err := c.Err(); err != nil {
			t.Fatalf("connection ended: %v", err)
		}
	})
}

func TestUnansweredPingEndsConnection(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		a := newPipeAgent(t)
		a.noReader = true
		opts := virtualOpts
		opts.PingInterval = time.Second
		c, _ := a.dial(opts)
		waitDone(t, c)
		if !errors.Is(c.Err(), actors.ErrAgentDisconnected) {
			t.Fatalf("Err = %v, want ErrAgentDisconnected", c.Err())
		}
	})
}

// While a confirmation request waits for the person, the idle timeout does
// not end the turn; once the answer is sent the agent must speak again
// within it.
func TestIdleTimerWaitsForAConfirmation(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		a := newPipeAgent(t)
		c, s := a.dial(virtualOpts)
		ch := startTurn(t, c, actors.UserMessage{Text: "mail bob"})
		s.recv()
		s.send(`{"type":"AGENT_EVENT_CONFIRM_REQUEST","id":"c-1","text":"Send it?"}`)
		if ev := wait.Recv(t, ch, "the CONFIRM_REQUEST event"); ev.Kind != actors.AgentConfirmRequest {
			t.Fatalf("event = %+v", ev)
		}
		// The person takes three idle timeouts to answer.
		time.Sleep(3 * virtualOpts.TurnIdleTimeout)
		synctest.Wait()
		if c.Err() != nil {
			t.Fatalf("the connection ended while waiting for the person: %v", c.Err())
		}
		if err := c.Confirm(context.Background(), "c-1", true); err != nil {
			t.Fatal(err)
		}
		s.recv()
		// Now the agent is silent: the idle timeout applies again.
		evs := collect(t, ch)
		if ev := terminal(t, evs); ev.Kind != actors.AgentFailed || !errors.Is(ev.Err, actors.ErrAgentTimeout) {
			t.Fatalf("terminal = %+v, want ErrAgentTimeout after the answer", ev)
		}
	})
}
