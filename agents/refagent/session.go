package refagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/agents"
)

// errHangup ends a turn whose script closed or dropped the connection.
var errHangup = errors.New("connection closed by the script")

// session is one WebSocket connection: the goroutine running run reads, and
// one worker goroutine sends STATUS and then plays the turns in order.
type session struct {
	srv      *Server
	agent    Agent
	chatID   string
	ws       *websocket.Conn
	confirms chan confirmAnswer

	mu sync.Mutex
	// stopTurn cancels the running turn (USER_CANCEL); nil between turns.
	stopTurn context.CancelFunc
}

// cancelTurn stops the running turn, if any (USER_CANCEL).
func (s *session) cancelTurn() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopTurn != nil {
		s.stopTurn()
	}
}

// runTurn plays one turn under its own context, so USER_CANCEL can stop it;
// a stopped turn ends with END {cancelled: true}, as the extension asks.
func (s *session) runTurn(ctx context.Context, m agents.UserMessageFrame) error {
	tctx, stop := context.WithCancel(ctx)
	s.mu.Lock()
	s.stopTurn = stop
	s.mu.Unlock()
	err := s.turn(tctx, m)
	s.mu.Lock()
	s.stopTurn = nil
	s.mu.Unlock()
	stopped := tctx.Err() != nil && ctx.Err() == nil
	stop()
	if stopped {
		return s.sendFrame(ctx, agents.EndFrame{Type: agents.TypeEnd, Cancelled: true})
	}
	return err
}

type confirmAnswer struct {
	id       string
	approved bool
}

// run serves the connection until the client leaves or the server closes.
func (s *session) run(ctx context.Context) {
	log := zerolog.Ctx(ctx)
	ctx, cancel := context.WithCancel(ctx)
	var turns sync.WaitGroup
	defer func() {
		cancel()
		turns.Wait()
		_ = s.ws.CloseNow()
	}()
	log.Debug().Msg("agent connection opened")

	queue := make(chan agents.UserMessageFrame, 8)
	turns.Add(1)
	go func() {
		defer turns.Done()
		s.onConnect(ctx)
		for {
			select {
			case m := <-queue:
				if err := s.runTurn(ctx, m); err != nil {
					log.Debug().Err(err).Msg("turn ended early")
					if errors.Is(err, errHangup) {
						cancel()
						return
					}
				}
			case <-ctx.Done():
				// The server is closing (or the client left): say so with a
				// close frame, from the one goroutine that writes.
				_ = s.ws.Close(websocket.StatusGoingAway, "agent shutting down")
				return
			}
		}
	}()
	for {
		typ, data, err := s.ws.Read(context.Background())
		if err != nil {
			log.Debug().Err(err).Msg("agent connection ended")
			return
		}
		if typ != websocket.MessageText {
			log.Debug().Msg("ignoring binary frame from client")
			continue
		}
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(data, &head); err != nil {
			log.Debug().Err(err).Msg("ignoring malformed frame from client")
			continue
		}
		switch head.Type {
		case agents.TypeUserMessage:
			var m agents.UserMessageFrame
			if err := json.Unmarshal(data, &m); err != nil {
				log.Debug().Err(err).Msg("ignoring malformed USER_MESSAGE")
				continue
			}
			s.srv.record(Received{AgentID: s.agent.ID, ChatID: s.chatID, Type: head.Type, Text: m.Text, Attachments: m.Attachments})
			log.Debug().Str("text", m.Text).Strs("attachments", m.Attachments).Msg("USER_MESSAGE received")
			// Turns run one after another in the worker: the client may send
			// the next message as soon as it read END, before the worker has
			// returned from the previous turn.
			select {
			case queue <- m:
			default:
				s.sendFrame(ctx, agents.ErrorFrame{Type: agents.TypeError, Message: "too many queued messages", Code: "busy"})
			}
		case agents.TypeUserCancel:
			s.srv.record(Received{AgentID: s.agent.ID, ChatID: s.chatID, Type: head.Type})
			log.Debug().Msg("USER_CANCEL received")
			if !s.srv.cfg.NoCancel {
				s.cancelTurn()
			}
		case agents.TypeUserConfirm:
			var c agents.UserConfirmFrame
			if err := json.Unmarshal(data, &c); err != nil {
				log.Debug().Err(err).Msg("ignoring malformed USER_CONFIRM")
				continue
			}
			s.srv.record(Received{AgentID: s.agent.ID, ChatID: s.chatID, Type: head.Type, ConfirmID: c.ID, Approved: c.Approved})
			log.Debug().Str("confirm_id", c.ID).Bool("approved", c.Approved).Msg("USER_CONFIRM received")
			select {
			case s.confirms <- confirmAnswer{id: c.ID, approved: c.Approved}:
			default: // nobody is waiting for that many answers
			}
		default:
			log.Debug().Str("frame_type", head.Type).Msg("ignoring client frame of unknown type")
		}
	}
}

// onConnect sends STATUS, or plays the script's on_connect steps.
func (s *session) onConnect(ctx context.Context) {
	if s.srv.cfg.Mode == ModeScripted && s.srv.cfg.Script.OnConnect != nil {
		if err := s.play(ctx, s.srv.cfg.Script.OnConnect); errors.Is(err, errHangup) {
			_ = s.ws.CloseNow()
		}
		return
	}
	caps := []string{agents.CapabilityCancel, agents.CapabilityConfirm}
	if s.srv.cfg.NoCancel {
		caps = []string{agents.CapabilityConfirm}
	}
	s.sendFrame(ctx, agents.StatusFrame{Type: agents.TypeStatus, Status: "ready", AgentID: s.agent.ID, Capabilities: caps})
}

// turn answers one USER_MESSAGE in the server's mode.
func (s *session) turn(ctx context.Context, m agents.UserMessageFrame) error {
	switch s.srv.cfg.Mode {
	case ModeScripted:
		return s.play(ctx, s.srv.cfg.Script.StepsFor(m.Text))
	case ModeOpenAI:
		return s.openAITurn(ctx, m)
	default:
		return s.echoTurn(ctx, m)
	}
}

// sendFrame writes one JSON frame; a failure means the client is gone, which
// the read loop notices by itself.
func (s *session) sendFrame(ctx context.Context, frame any) error {
	data, err := json.Marshal(frame)
	if err != nil {
		return fmt.Errorf("failed to encode frame: %w", err)
	}
	return s.sendRaw(ctx, websocket.MessageText, data)
}

func (s *session) sendRaw(ctx context.Context, typ websocket.MessageType, data []byte) error {
	// The write deadline must not hang off the session's context: coder/websocket
	// closes the socket without a close frame when a context given to Write
	// ends, and the session's ends exactly when a 1001 close frame is due.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.ws.Write(wctx, typ, data); err != nil {
		return fmt.Errorf("failed to write frame: %w", err)
	}
	return nil
}

// sleep waits d or until ctx ends; it reports whether the full time passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// waitConfirm waits for a USER_CONFIRM, with id when id is not empty.
func (s *session) waitConfirm(ctx context.Context, id string) (bool, error) {
	for {
		select {
		case a := <-s.confirms:
			if id == "" || a.id == id {
				return a.approved, nil
			}
		case <-ctx.Done():
			return false, fmt.Errorf("failed to wait for USER_CONFIRM: %w", ctx.Err())
		}
	}
}
