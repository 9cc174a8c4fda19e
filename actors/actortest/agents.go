package actortest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/test/wait"
)

// Agents is a fake actors.AgentDialer. Each Dial yields a Conn the test can
// take with NextConn; each turn on it yields a Turn the test drives with
// Emit. With Script set, turns play the script by themselves instead.
type Agents struct {
	// Script, when set, answers every turn by itself.
	Script func(actors.UserMessage) []actors.AgentEvent
	// CanCancel makes later connections list the cancel capability.
	CanCancel bool

	mu      sync.Mutex
	dials   []string // "agentID/chatID"
	failErr error
	hold    chan struct{}
	conns   chan *Conn
}

var _ actors.AgentDialer = (*Agents)(nil)

// NewAgents returns a fake dialer.
func NewAgents() *Agents { return &Agents{conns: make(chan *Conn, 1024)} }

// FailDials makes later dials fail with err (nil: succeed again).
func (a *Agents) FailDials(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failErr = err
}

// Dials lists "agentID/chatID" for every dial so far.
func (a *Agents) Dials() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.dials...)
}

// Dial implements actors.AgentDialer.
func (a *Agents) Dial(ctx context.Context, agent actors.AgentRef, chatID string) (actors.AgentConn, error) {
	a.mu.Lock()
	a.dials = append(a.dials, agent.ID+"/"+chatID)
	err, hold := a.failErr, a.hold
	a.mu.Unlock()
	if hold != nil {
		<-hold // the dial completes only when released, whatever ctx says, like a slow network
	}
	if err != nil {
		return nil, fmt.Errorf("fake dial %s: %w", agent.ID, errors.Join(actors.ErrAgentUnavailable, err))
	}
	c := &Conn{Agent: agent, ChatID: chatID, CanCancel: a.CanCancel, script: a.Script, turns: make(chan *Turn, 1024), done: make(chan struct{})}
	a.conns <- c
	return c, nil
}

// HoldDials makes later dials wait until release is called, so a test can
// let a dial complete after the actor that asked for it moved on.
func (a *Agents) HoldDials() (release func()) {
	ch := make(chan struct{})
	a.mu.Lock()
	a.hold = ch
	a.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			a.hold = nil
			a.mu.Unlock()
			close(ch)
		})
	}
}

// NextConn returns the next dialed connection, failing after timeout.
func (a *Agents) NextConn(timeout time.Duration) (*Conn, error) {
	c, ok := awaitChan(a.conns, timeout)
	if !ok {
		return nil, fmt.Errorf("no agent dial within %v", timeout)
	}
	return c, nil
}

// TryNextConn returns a dialed connection not yet taken, without waiting.
// After synctest.Wait, "no dial happened" is !ok, with no timer to race.
func (a *Agents) TryNextConn() (*Conn, bool) {
	select {
	case c := <-a.conns:
		return c, true
	default:
		return nil, false
	}
}

// awaitChan receives from ch within timeout; a value and the deadline at the
// same instant give the value, whichever case select picks.
func awaitChan[T any](ch <-chan T, timeout time.Duration) (T, bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v, true
	case <-timer.C:
		wait.Settle()
		select {
		case v := <-ch:
			return v, true
		default:
			var zero T
			return zero, false
		}
	}
}

// Conn is one fake agent connection.
type Conn struct {
	Agent  actors.AgentRef
	ChatID string
	// CanCancel: the agent listed the cancel capability (Agents.CanCancel
	// sets it for every later dial).
	CanCancel bool
	cancels   int
	// cancelled lists, for each USER_CANCEL that landed, the text of the
	// turn it found running ("" for none); holdCancel, when set, is
	// waited on before a cancel lands (HoldCancels).
	cancelled  []string
	holdCancel chan struct{}
	script     func(actors.UserMessage) []actors.AgentEvent

	mu       sync.Mutex
	current  *Turn
	confirms []Confirmation
	closed   bool
	err      error
	turns    chan *Turn
	done     chan struct{}
}

var _ actors.AgentConn = (*Conn)(nil)

// Turn is one turn on a fake connection.
type Turn struct {
	Msg actors.UserMessage
	// Refused is set on a turn started while another was running: the fake
	// answered ErrTurnRunning, as the real client does. An actor should
	// never do that, so seeing one is a bug in the actor.
	Refused bool
	conn    *Conn
	events  chan actors.AgentEvent
}

// Turn implements actors.AgentConn.
func (c *Conn) Turn(ctx context.Context, msg actors.UserMessage) (<-chan actors.AgentEvent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("fake conn closed: %w", actors.ErrAgentDisconnected)
	}
	if c.current != nil {
		// The real client refuses too; the refused turn is still handed to
		// the test, so that an actor that overlaps turns is seen doing it.
		c.turns <- &Turn{Msg: msg, Refused: true, conn: c}
		return nil, actors.ErrTurnRunning
	}
	if c.script != nil {
		// Sized to the script, so benchmarks measure the tree, not the fake.
		events := c.script(msg)
		t := &Turn{Msg: msg, conn: c, events: make(chan actors.AgentEvent, len(events)+1)}
		c.current = t
		// The whole script is queued before the turn is read, as from an
		// agent that has its answer at once.
		for _, ev := range events {
			t.events <- ev
			if ev.Terminal() {
				c.current = nil
				close(t.events)
				break
			}
		}
		return t.events, nil
	}
	t := &Turn{Msg: msg, conn: c, events: make(chan actors.AgentEvent, 256)}
	c.current = t
	c.turns <- t
	return t.events, nil
}

// NextTurn returns the next turn started on c, failing after timeout.
func (c *Conn) NextTurn(timeout time.Duration) (*Turn, error) {
	t, ok := awaitChan(c.turns, timeout)
	if !ok {
		return nil, fmt.Errorf("no turn on chat %s within %v", c.ChatID, timeout)
	}
	return t, nil
}

// TryNextTurn returns a turn started on c and not yet taken, without
// waiting. After synctest.Wait, "no second turn started" is !ok, with no
// timer to race.
func (c *Conn) TryNextTurn() (*Turn, bool) {
	select {
	case t := <-c.turns:
		return t, true
	default:
		return nil, false
	}
}

// Emit delivers events to the turn; a terminal event ends it (later events
// are dropped, as the real client drops a duplicate END).
func (t *Turn) Emit(events ...actors.AgentEvent) {
	for _, ev := range events {
		ended := false
		t.conn.mu.Lock()
		if t.conn.current != t {
			t.conn.mu.Unlock()
			return
		}
		if ev.Terminal() {
			t.conn.current = nil
			ended = true
		}
		t.conn.mu.Unlock()
		t.events <- ev
		if ended {
			close(t.events)
			return
		}
	}
}

// Confirm implements actors.AgentConn; answers are recorded for Confirms.
func (c *Conn) Confirm(_ context.Context, id string, approved bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.confirms = append(c.confirms, Confirmation{ID: id, Approved: approved})
	return nil
}

// Cancel implements actors.AgentConn: with CanCancel set it records the
// request (Cancels, and the turn it reached in CancelledTurns) and reports
// it sent; otherwise it sends nothing. After HoldCancels it lands only once
// released, as a slow write would.
func (c *Conn) Cancel(ctx context.Context) (bool, error) {
	c.mu.Lock()
	hold := c.holdCancel
	c.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.CanCancel {
		return false, nil
	}
	c.cancels++
	reached := ""
	if c.current != nil {
		reached = c.current.Msg.Text
	}
	c.cancelled = append(c.cancelled, reached)
	return true, nil
}

// HoldCancels makes later USER_CANCELs on c wait until release is called
// before they land, so a test can order them against other events.
func (c *Conn) HoldCancels() (release func()) {
	hold := make(chan struct{})
	c.mu.Lock()
	c.holdCancel = hold
	c.mu.Unlock()
	return sync.OnceFunc(func() { close(hold) })
}

// CancelledTurns lists, for each USER_CANCEL that landed, the text of the
// message whose turn was running then ("" when none was).
func (c *Conn) CancelledTurns() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.cancelled...)
}

// Cancels is how many USER_CANCEL the fake received.
func (c *Conn) Cancels() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cancels
}

// Confirmation is one USER_CONFIRM the fake received.
type Confirmation struct {
	ID       string
	Approved bool
}

// Confirms lists the confirmations sent on c so far.
func (c *Conn) Confirms() []Confirmation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Confirmation(nil), c.confirms...)
}

// Done implements actors.AgentConn.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err implements actors.AgentConn.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close implements actors.AgentConn.
func (c *Conn) Close() error {
	c.Drop(errors.New("closed by client"))
	return nil
}

// Drop ends the connection as if the agent went away: a running turn fails
// with ErrAgentDisconnected.
func (c *Conn) Drop(cause error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.err = true, cause
	t := c.current
	c.current = nil
	close(c.done)
	c.mu.Unlock()
	if t != nil {
		t.events <- actors.AgentEvent{Kind: actors.AgentFailed, Err: fmt.Errorf("%w: %v", actors.ErrAgentDisconnected, cause)}
		close(t.events)
	}
}

// Closed reports whether the connection ended.
func (c *Conn) Closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Text is a convenience constructor of a text chunk event.
func Text(s string) actors.AgentEvent { return actors.AgentEvent{Kind: actors.AgentTextChunk, Text: s} }

// End is a convenience constructor of an END event.
func End(tokens int64) actors.AgentEvent {
	return actors.AgentEvent{Kind: actors.AgentEnd, TokensUsed: tokens}
}

// Failed is a convenience constructor of a terminal failure.
func Failed(err error, text string) actors.AgentEvent {
	return actors.AgentEvent{Kind: actors.AgentFailed, Err: err, Text: text}
}
