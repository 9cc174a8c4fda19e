package agents

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
)

// readLoop reads frames until the socket ends and routes them to the open
// turn. It reads without a context: supervise ends it by closing the socket,
// which lets the close handshake finish instead of cutting the TCP stream.
func (c *Conn) readLoop() {
	defer c.loops.Done()
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.cancel(readCause(err))
			return
		}
		if typ != websocket.MessageText {
			c.cancel(protocolError("binary frame"))
			return
		}
		f, err := DecodeFrame(c.ctx, data, c.agent.WorkspacePath)
		if err != nil {
			c.cancel(err)
			return
		}
		c.dispatch(f)
	}
}

// readCause turns a read error into the connection's cause.
func readCause(err error) error {
	if errors.Is(err, websocket.ErrMessageTooBig) {
		return protocolError("frame too large: %v", err)
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: agent closed the connection with status %d %q", actors.ErrAgentDisconnected, int(ce.Code), ce.Reason)
	}
	return fmt.Errorf("%w: %w", actors.ErrAgentDisconnected, err)
}

// dispatch applies the robustness rules of docs/agent-protocol.md: STATUS again,
// unknown types and anything outside a turn (a duplicate END included) are
// ignored; a terminal event closes the turn.
func (c *Conn) dispatch(f Decoded) {
	log := zerolog.Ctx(c.ctx)
	if f.Event.Kind == 0 {
		if f.Type == TypeStatus {
			log.Debug().Msg("ignoring repeated STATUS")
		}
		return
	}
	c.mu.Lock()
	t := c.turn
	// An event read before this turn's USER_MESSAGE started going out
	// belongs to an earlier turn: the platform was seen repeating END.
	stale := t == nil || !t.isSent()
	if !stale && f.Event.Terminal() {
		c.turn = nil
	}
	c.mu.Unlock()
	if stale {
		log.Debug().Str("frame_type", f.Type).Msg("ignoring agent event outside a turn")
		return
	}
	if f.Event.Terminal() {
		t.finish(f.Event)
		return
	}
	t.touch()
	if f.Event.Kind == actors.AgentConfirmRequest {
		t.awaitAnswer() // the person may take longer than the idle timeout
	}
	t.progress(f.Event, c.ctx.Done())
}

// writeLoop writes the frames handed over by write, one at a time.
func (c *Conn) writeLoop() {
	defer c.loops.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case req := <-c.writes:
			if req.before != nil {
				req.before()
			}
			wctx, cancel := context.WithTimeout(context.Background(), c.writeTimeout())
			err := c.ws.Write(wctx, websocket.MessageText, req.data)
			cancel()
			if err != nil {
				err = fmt.Errorf("%w: failed to write frame: %w", actors.ErrAgentDisconnected, err)
				req.done <- err
				c.cancel(err)
				return
			}
			req.done <- nil
		}
	}
}

// pingLoop pings the agent every PingInterval; an unanswered ping means the
// peer or the path to it is gone even though TCP has not noticed yet.
func (c *Conn) pingLoop() {
	defer c.loops.Done()
	tick := time.NewTicker(c.opts.PingInterval)
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		}
		pctx, cancel := context.WithTimeout(context.Background(), c.opts.PingInterval)
		err := c.ws.Ping(pctx)
		cancel()
		if err != nil {
			c.cancel(fmt.Errorf("%w: ping not answered: %w", actors.ErrAgentDisconnected, err))
			return
		}
	}
}
