package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
)

// Conn is one open agent WebSocket (actors.AgentConn). See the package
// documentation for its concurrency contract.
type Conn struct {
	ws     *websocket.Conn
	agent  actors.AgentRef
	chatID string
	opts   Options

	// ctx carries the logger and ends the connection: its cause is Err().
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}
	writes chan writeReq
	loops  sync.WaitGroup

	mu   sync.Mutex
	turn *turn // the open turn, nil between turns
	dead bool  // set once the connection's end has been handled

	closeErr error // result of the close handshake, read after done

	// canCancel is set when the agent's STATUS listed the cancel capability.
	canCancel bool
}

var _ actors.AgentConn = (*Conn)(nil)

type writeReq struct {
	data []byte
	// before runs in the write loop just before the frame goes out.
	before func()
	done   chan error // buffered: the write loop never waits for the caller
}

// newConn starts the read, write and ping loops of an upgraded socket that
// has already sent STATUS. base carries the logger.
func newConn(base context.Context, ws *websocket.Conn, agent actors.AgentRef, chatID string, opts Options, canCancel bool) *Conn {
	ctx, cancel := context.WithCancelCause(base)
	c := &Conn{
		ws: ws, agent: agent, chatID: chatID, opts: opts, canCancel: canCancel,
		ctx: ctx, cancel: cancel,
		done:   make(chan struct{}),
		writes: make(chan writeReq),
	}
	c.loops.Add(2)
	go c.readLoop()
	go c.writeLoop()
	if opts.PingInterval > 0 {
		c.loops.Add(1)
		go c.pingLoop()
	}
	go c.supervise()
	return c
}

// Turn implements actors.AgentConn. Once the turn is registered every
// failure, including one to send USER_MESSAGE, arrives as the terminal event
// on the channel; the error return is only for a turn that never started.
func (c *Conn) Turn(ctx context.Context, msg actors.UserMessage) (<-chan actors.AgentEvent, error) {
	data, err := json.Marshal(UserMessageFrame{Text: msg.Text, Attachments: msg.Attachments})
	if err != nil {
		return nil, fmt.Errorf("failed to encode USER_MESSAGE: %w", err)
	}
	c.mu.Lock()
	switch {
	case c.dead:
		c.mu.Unlock()
		return nil, fmt.Errorf("failed to start turn: %w", context.Cause(c.ctx))
	case c.turn != nil:
		c.mu.Unlock()
		return nil, fmt.Errorf("failed to start turn: %w", actors.ErrTurnRunning)
	}
	// The timer and the context watcher run their callbacks in their own
	// goroutines, which take c.mu after this function releases it.
	t := newTurn(ctx, c.opts.TurnIdleTimeout, c.turnIdle, c.turnCancelled)
	c.turn = t
	c.mu.Unlock()
	if err := c.write(ctx, data, t.markSent); err != nil {
		c.cancel(fmt.Errorf("%w: failed to send USER_MESSAGE: %w", actors.ErrAgentDisconnected, err))
	}
	return t.out, nil
}

// Confirm implements actors.AgentConn: it sends USER_CONFIRM.
func (c *Conn) Confirm(ctx context.Context, id string, approved bool) error {
	data, err := json.Marshal(UserConfirmFrame{Type: TypeUserConfirm, ID: id, Approved: approved})
	if err != nil {
		return fmt.Errorf("failed to encode USER_CONFIRM: %w", err)
	}
	if err := c.write(ctx, data, nil); err != nil {
		return fmt.Errorf("failed to send USER_CONFIRM: %w", err)
	}
	c.mu.Lock()
	t := c.turn
	c.mu.Unlock()
	if t != nil {
		t.answered()
	}
	return nil
}

// Cancel implements actors.AgentConn: it sends USER_CANCEL when the agent
// listed the cancel capability, and reports false (sending nothing) when
// it did not.
func (c *Conn) Cancel(ctx context.Context) (bool, error) {
	if !c.canCancel {
		return false, nil
	}
	data, err := json.Marshal(UserCancelFrame{Type: TypeUserCancel})
	if err != nil {
		return false, fmt.Errorf("failed to encode USER_CANCEL: %w", err)
	}
	if err := c.write(ctx, data, nil); err != nil {
		return false, fmt.Errorf("failed to send USER_CANCEL: %w", err)
	}
	return true, nil
}

// Done implements actors.AgentConn: it is closed once every goroutine of the
// connection has ended and the socket is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err implements actors.AgentConn: why the connection ended, nil while it is
// open. It wraps actors.ErrAgentDisconnected (agent closed or dropped it, or
// ErrConnClosed after Close), ErrAgentTimeout or ErrAgentProtocol.
func (c *Conn) Err() error { return context.Cause(c.ctx) }

// Close implements actors.AgentConn: it closes with status 1000 and waits
// for the connection's goroutines. An open turn ends with AgentFailed.
// Closing an already ended connection returns nil.
func (c *Conn) Close() error {
	select {
	case <-c.done:
		return nil
	default:
	}
	closed := fmt.Errorf("%w: %w", actors.ErrAgentDisconnected, ErrConnClosed)
	c.cancel(closed)
	<-c.done
	if context.Cause(c.ctx) == closed && c.closeErr != nil {
		return fmt.Errorf("failed to close agent connection: %w", c.closeErr)
	}
	return nil
}

// write hands one text frame to the write loop and waits for the result.
func (c *Conn) write(ctx context.Context, data []byte, before func()) error {
	req := writeReq{data: data, before: before, done: make(chan error, 1)}
	select {
	case c.writes <- req:
	case <-ctx.Done():
		return fmt.Errorf("failed to write frame: %w", ctx.Err())
	case <-c.ctx.Done():
		return fmt.Errorf("failed to write frame: %w", context.Cause(c.ctx))
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("failed to write frame: %w", ctx.Err())
	}
}

// turnIdle ends the connection when t is still the open turn: a silent agent
// may still be working on it, and its late frames must not leak into the
// next turn, so the next turn gets a fresh connection.
func (c *Conn) turnIdle(t *turn) {
	if c.isOpenTurn(t) {
		c.cancel(fmt.Errorf("%w: no event for %s", actors.ErrAgentTimeout, c.opts.TurnIdleTimeout))
	}
}

// turnCancelled ends the connection when the caller gave up on the open
// turn t, for the same reason as turnIdle.
func (c *Conn) turnCancelled(t *turn) {
	if c.isOpenTurn(t) {
		c.cancel(fmt.Errorf("%w: turn abandoned: %w", actors.ErrAgentDisconnected, context.Cause(t.ctx)))
	}
}

func (c *Conn) isOpenTurn(t *turn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.turn == t
}

// supervise waits for the connection's end, fails the open turn, closes the
// socket with a status that says why, waits for the loops and closes done.
func (c *Conn) supervise() {
	<-c.ctx.Done()
	cause := context.Cause(c.ctx)
	c.mu.Lock()
	t := c.turn
	c.turn, c.dead = nil, true
	c.mu.Unlock()
	if t != nil {
		t.finish(actors.AgentEvent{Kind: actors.AgentFailed, Err: cause})
	}
	code, reason := closeStatus(cause)
	c.closeErr = c.ws.Close(code, reason)
	c.loops.Wait()
	log := zerolog.Ctx(c.ctx)
	if t != nil {
		// During a turn the turn's logger says which one (turn_id).
		log = zerolog.Ctx(t.ctx)
	}
	switch {
	case errors.Is(cause, ErrConnClosed):
		log.Debug().Msg("agent connection closed")
	case t != nil || errors.Is(cause, actors.ErrAgentProtocol):
		log.Warn().Err(cause).Bool("during_turn", t != nil).Msg("agent connection ended")
	default:
		log.Debug().Err(cause).Msg("agent connection ended between turns")
	}
	close(c.done)
}

// closeStatus picks the close frame for a cause.
func closeStatus(cause error) (websocket.StatusCode, string) {
	switch {
	case errors.Is(cause, actors.ErrAgentProtocol):
		return websocket.StatusProtocolError, "protocol error"
	case errors.Is(cause, actors.ErrAgentTimeout):
		return websocket.StatusGoingAway, "turn idle timeout"
	case errors.Is(cause, context.Canceled), errors.Is(cause, context.DeadlineExceeded):
		return websocket.StatusGoingAway, "turn abandoned"
	default:
		return websocket.StatusNormalClosure, ""
	}
}

// writeTimeout bounds one frame write independently of the connection's
// context, so that cancelling the connection never tears a frame in half.
func (c *Conn) writeTimeout() time.Duration { return c.opts.ConnectTimeout }
