package agents

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/test/wait"
)

// fastOpts is for real-socket tests that never wait for a timeout to fire:
// the timeouts only bound a broken run, and nothing asserts on elapsed time.
var fastOpts = Options{ConnectTimeout: 5 * time.Second, StatusTimeout: 5 * time.Second,
	TurnIdleTimeout: 10 * time.Second, PingInterval: -1}

// logLines captures log lines so a test can wait for a frame it cannot
// otherwise observe (an ignored one).
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	select {
	case l <- string(p):
	default:
	}
	return len(p), nil
}

func (l logLines) wait(t *testing.T, substr string) {
	t.Helper()
	for {
		if line := wait.Recv(t, l, fmt.Sprintf("a log line containing %q", substr)); strings.Contains(line, substr) {
			return
		}
	}
}

// dialLogged dials with a debug logger whose lines go to the returned channel.
func dialLogged(t *testing.T, a *testAgent) (*Conn, *agentSide, logLines) {
	t.Helper()
	lines := make(logLines, 256)
	ctx := zerolog.New(lines).Level(zerolog.DebugLevel).WithContext(context.Background())
	c, err := a.dialer(fastOpts).DialConn(ctx, a.ref(), "1")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, a.accepted(), lines
}

func startTurn(t *testing.T, c actors.AgentConn, msg actors.UserMessage) <-chan actors.AgentEvent {
	t.Helper()
	ch, err := c.Turn(context.Background(), msg)
	if err != nil {
		t.Fatalf("Turn: %v", err)
	}
	return ch
}

func TestTurnStreamsEvents(t *testing.T) {
	a := newTestAgent(t)
	c, s := a.dial(fastOpts)
	if s.chatID != "1" {
		t.Fatalf("chat id on the agent = %q, want 1", s.chatID)
	}
	ch := startTurn(t, c, actors.UserMessage{Text: "hello"})
	got := s.recv()
	want := map[string]any{"type": "USER_MESSAGE", "text": "hello", "attachments": []any{}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("agent got %v, want %v", got, want)
	}
	s.send(`{"type":"AGENT_EVENT_TOOL_CALL_CHUNK","name":"echo","args":"{}","id":"call-1"}`)
	s.send(`{"type":"AGENT_EVENT_TOOL_RESULT","name":"echo","id":"call-1","result":"ok"}`)
	s.send(`{"type":"AGENT_EVENT_CUSTOM_UPDATE","text":"thinking"}`)
	s.send(`{"type":"AGENT_EVENT_TEXT_CHUNK","text":"echo: "}`)
	s.send(`{"type":"AGENT_EVENT_TEXT_CHUNK","text":"hello"}`)
	s.send(`{"type":"AGENT_EVENT_SEND_FILE","path":"/agents/0/output/a.txt"}`)
	s.send(`{"type":"AGENT_EVENT_END","tokens_used":7}`)
	evs := collect(t, ch)
	wantEvs := []actors.AgentEvent{
		{Kind: actors.AgentToolCall, Name: "echo", ID: "call-1"},
		{Kind: actors.AgentToolResult, Name: "echo", ID: "call-1"},
		{Kind: actors.AgentCustomUpdate, Text: "thinking"},
		{Kind: actors.AgentTextChunk, Text: "echo: "},
		{Kind: actors.AgentTextChunk, Text: "hello"},
		{Kind: actors.AgentSendFile, Path: "output/a.txt"},
		{Kind: actors.AgentEnd, TokensUsed: 7},
	}
	if !reflect.DeepEqual(evs, wantEvs) {
		t.Fatalf("events = %+v\nwant %+v", evs, wantEvs)
	}
	// The connection stays open for the next turn, which carries attachments.
	ch = startTurn(t, c, actors.UserMessage{Attachments: []string{"incoming/a.pdf"}})
	got = s.recv()
	want = map[string]any{"type": "USER_MESSAGE", "text": "", "attachments": []any{"incoming/a.pdf"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("agent got %v, want %v", got, want)
	}
	s.send(`{"type":"AGENT_EVENT_END"}`)
	if ev := terminal(t, collect(t, ch)); ev.Kind != actors.AgentEnd {
		t.Fatalf("terminal = %+v", ev)
	}
}

func TestUnknownTypesAndFieldsIgnored(t *testing.T) {
	a := newTestAgent(t)
	c, s := a.dial(fastOpts)
	ch := startTurn(t, c, actors.UserMessage{Text: "x"})
	s.recv()
	s.send(`{"type":"AGENT_EVENT_HEARTBEAT","seq":1}`)
	s.send(`{"type":"STATUS","status":"busy"}`)
	s.send(`{"type":"AGENT_EVENT_TEXT_CHUNK","text":"a","extra":{"deep":[1,2]}}`)
	s.send(`{"type":"AGENT_EVENT_END","tokens_used":1,"model":"m"}`)
	evs := collect(t, ch)
	want := []actors.AgentEvent{{Kind: actors.AgentTextChunk, Text: "a"}, {Kind: actors.AgentEnd, TokensUsed: 1}}
	if !reflect.DeepEqual(evs, want) {
		t.Fatalf("events = %+v, want %+v", evs, want)
	}
}

func TestStrayEndsIgnored(t *testing.T) {
	for _, tc := range []struct {
		name string
		// before runs on the agent side before the turn under test.
		before func(t *testing.T, c *Conn, s *agentSide)
	}{
		{"END with no turn", func(t *testing.T, c *Conn, s *agentSide) {
			s.send(`{"type":"AGENT_EVENT_END"}`)
		}},
		{"duplicate END", func(t *testing.T, c *Conn, s *agentSide) {
			ch := startTurn(t, c, actors.UserMessage{Text: "first"})
			s.recv()
			s.send(`{"type":"AGENT_EVENT_END","tokens_used":1}`)
			s.send(`{"type":"AGENT_EVENT_END","tokens_used":1}`)
			if ev := terminal(t, collect(t, ch)); ev.Kind != actors.AgentEnd {
				t.Fatalf("first turn terminal = %+v", ev)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAgent(t)
			c, s, lines := dialLogged(t, a)
			tc.before(t, c, s)
			lines.wait(t, "ignoring agent event outside a turn")
			ch := startTurn(t, c, actors.UserMessage{Text: "second"})
			s.recv()
			s.send(`{"type":"AGENT_EVENT_TEXT_CHUNK","text":"ok"}`)
			s.send(`{"type":"AGENT_EVENT_END","tokens_used":2}`)
			evs := collect(t, ch)
			want := []actors.AgentEvent{{Kind: actors.AgentTextChunk, Text: "ok"}, {Kind: actors.AgentEnd, TokensUsed: 2}}
			if !reflect.DeepEqual(evs, want) {
				t.Fatalf("events = %+v, want %+v", evs, want)
			}
			if c.Err() != nil {
				t.Fatalf("connection ended: %v", c.Err())
			}
		})
	}
}

func TestProtocolViolationEndsTurnAndConnection(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(s *agentSide)
	}{
		{"malformed JSON", func(s *agentSide) { s.send(`{"type":"AGENT_EVENT_TEXT_CHUNK","text":`) }},
		{"frame without type", func(s *agentSide) { s.send(`{"text":"hi"}`) }},
		{"binary frame", func(s *agentSide) { s.sendBinary([]byte(`{"type":"AGENT_EVENT_END"}`)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAgent(t)
			c, s := a.dial(fastOpts)
			ch := startTurn(t, c, actors.UserMessage{Text: "x"})
			s.recv()
			s.send(`{"type":"AGENT_EVENT_TEXT_CHUNK","text":"partial"}`)
			tc.send(s)
			evs := collect(t, ch)
			if len(evs) != 2 || evs[0].Text != "partial" {
				t.Fatalf("events = %+v", evs)
			}
			if ev := terminal(t, evs); ev.Kind != actors.AgentFailed || !errors.Is(ev.Err, actors.ErrAgentProtocol) {
				t.Fatalf("terminal = %+v, want AgentFailed with ErrAgentProtocol", ev)
			}
			waitDone(t, c)
			if !errors.Is(c.Err(), actors.ErrAgentProtocol) {
				t.Fatalf("Err = %v", c.Err())
			}
			if code := websocket.CloseStatus(s.waitEnd()); code != websocket.StatusProtocolError {
				t.Fatalf("close status on the agent = %v, want %v", code, websocket.StatusProtocolError)
			}
			// The next turn reconnects.
			c2, s2 := a.dial(fastOpts)
			ch = startTurn(t, c2, actors.UserMessage{Text: "again"})
			s2.recv()
			s2.send(`{"type":"AGENT_EVENT_END"}`)
			if ev := terminal(t, collect(t, ch)); ev.Kind != actors.AgentEnd {
				t.Fatalf("terminal after reconnect = %+v", ev)
			}
		})
	}
}

func TestErrorFrameEndsTurnKeepsConnection(t *testing.T) {
	a := newTestAgent(t)
	c, s := a.dial(fastOpts)
	ch := startTurn(t, c, actors.UserMessage{Text: "x"})
	s.recv()
	s.send(`{"type":"ERROR","message":"model overloaded","code":"busy"}`)
	ev := terminal(t, collect(t, ch))
	if ev.Kind != actors.AgentFailed || !errors.Is(ev.Err, actors.ErrAgentReported) || ev.Text != "model overloaded" || ev.Code != "busy" {
		t.Fatalf("terminal = %+v", ev)
	}
	ch = startTurn(t, c, actors.UserMessage{Text: "retry"})
	s.recv()
	s.send(`{"type":"AGENT_EVENT_END"}`)
	if ev := terminal(t, collect(t, ch)); ev.Kind != actors.AgentEnd {
		t.Fatalf("terminal = %+v", ev)
	}
}

func TestTurnRunningRefused(t *testing.T) {
	a := newTestAgent(t)
	c, s := a.dial(fastOpts)
	ch := startTurn(t, c, actors.UserMessage{Text: "x"})
	if _, err := c.Turn(context.Background(), actors.UserMessage{Text: "y"}); !errors.Is(err, actors.ErrTurnRunning) {
		t.Fatalf("second Turn err = %v, want ErrTurnRunning", err)
	}
	s.recv()
	s.send(`{"type":"AGENT_EVENT_END"}`)
	collect(t, ch)
}

func TestDropMidTurn(t *testing.T) {
	a := newTestAgent(t)
	c, s := a.dial(fastOpts)
	ch := startTurn(t, c, actors.UserMessage{Text: "x"})
	s.recv()
	s.send(`{"type":"AGENT_EVENT_TEXT_CHUNK","text":"part"}`)
	_ = s.ws.CloseNow()
	evs := collect(t, ch)
	if len(evs) != 2 || evs[0].Text != "part" {
		t.Fatalf("events = %+v", evs)
	}
	if ev := terminal(t, evs); ev.Kind != actors.AgentFailed || !errors.Is(ev.Err, actors.ErrAgentDisconnected) {
		t.Fatalf("terminal = %+v, want ErrAgentDisconnected", ev)
	}
	waitDone(t, c)
}

func TestDropBetweenTurns(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop func(s *agentSide)
	}{
		{"abrupt", func(s *agentSide) { _ = s.ws.CloseNow() }},
		{"normal closure", func(s *agentSide) { _ = s.ws.Close(websocket.StatusNormalClosure, "idle") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAgent(t)
			c, s := a.dial(fastOpts)
			tc.drop(s)
			waitDone(t, c)
			if !errors.Is(c.Err(), actors.ErrAgentDisconnected) {
				t.Fatalf("Err = %v, want ErrAgentDisconnected", c.Err())
			}
			if _, err := c.Turn(context.Background(), actors.UserMessage{Text: "x"}); !errors.Is(err, actors.ErrAgentDisconnected) {
				t.Fatalf("Turn on an ended connection: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("Close after the end: %v", err)
			}
		})
	}
}

func TestConfirmSendsUserConfirm(t *testing.T) {
	a := newTestAgent(t)
	c, s := a.dial(fastOpts)
	ch := startTurn(t, c, actors.UserMessage{Text: "mail bob"})
	s.recv()
	s.send(`{"type":"AGENT_EVENT_CONFIRM_REQUEST","id":"c-17","text":"Send the e-mail?"}`)
	ev := wait.Recv(t, ch, "the CONFIRM_REQUEST event")
	if ev.Kind != actors.AgentConfirmRequest || ev.ID != "c-17" || ev.Text != "Send the e-mail?" {
		t.Fatalf("event = %+v", ev)
	}
	if err := c.Confirm(context.Background(), ev.ID, true); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	got := s.recv()
	want := map[string]any{"type": "USER_CONFIRM", "id": "c-17", "approved": true}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("agent got %v, want %v", got, want)
	}
	s.send(`{"type":"AGENT_EVENT_END"}`)
	if ev := terminal(t, collect(t, ch)); ev.Kind != actors.AgentEnd {
		t.Fatalf("terminal = %+v", ev)
	}
}

func TestCloseSendsNormalClosure(t *testing.T) {
	a := newTestAgent(t)
	c, s := a.dial(fastOpts)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if code := websocket.CloseStatus(s.waitEnd()); code != websocket.StatusNormalClosure {
		t.Fatalf("close status on the agent = %v, want 1000", code)
	}
	if !errors.Is(c.Err(), ErrConnClosed) {
		t.Fatalf("Err = %v, want ErrConnClosed", c.Err())
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCloseDuringTurnFailsIt(t *testing.T) {
	a := newTestAgent(t)
	c, s := a.dial(fastOpts)
	ch := startTurn(t, c, actors.UserMessage{Text: "x"})
	s.recv()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if ev := terminal(t, collect(t, ch)); ev.Kind != actors.AgentFailed || !errors.Is(ev.Err, ErrConnClosed) {
		t.Fatalf("terminal = %+v", ev)
	}
}

func TestTurnContextCancelled(t *testing.T) {
	a := newTestAgent(t)
	c, s := a.dial(fastOpts)
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := c.Turn(ctx, actors.UserMessage{Text: "x"})
	if err != nil {
		t.Fatalf("Turn: %v", err)
	}
	s.recv()
	cancel()
	ev := terminal(t, collect(t, ch))
	if ev.Kind != actors.AgentFailed || !errors.Is(ev.Err, context.Canceled) || !errors.Is(ev.Err, actors.ErrAgentDisconnected) {
		t.Fatalf("terminal = %+v", ev)
	}
	waitDone(t, c)
}

// A consumer that stops reading must not pin the read loop: once the turn's
// context ends, the connection ends and every goroutine with it. The test
// runs in a synctest bubble over a synchronous pipe, so synctest.Wait proves
// that the read loop is blocked on the full turn buffer before the context
// is cancelled, rather than hoping it got there.
func TestSlowConsumerNeverBlocksForever(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		a := newPipeAgent(t)
		c, s := a.dial(virtualOpts)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ch, err := c.Turn(ctx, actors.UserMessage{Text: "x"})
		if err != nil {
			t.Fatalf("Turn: %v", err)
		}
		s.recv()
		// turnBuffer events fill the buffer, one more pins the read loop in
		// delivery and the last one waits in the pipe.
		go func() {
			for range turnBuffer + 2 {
				if s.ws.Write(context.Background(), websocket.MessageText, []byte(`{"type":"AGENT_EVENT_TEXT_CHUNK","text":"x"}`)) != nil {
					return // the client is gone
				}
			}
		}()
		synctest.Wait()
		if len(ch) != cap(ch) {
			t.Fatalf("turn buffer holds %d of %d events once everything blocked; want it full", len(ch), cap(ch))
		}
		if c.Err() != nil {
			t.Fatalf("connection ended before the turn was abandoned: %v", c.Err())
		}
		cancel()
		waitDone(t, c)
		if !errors.Is(c.Err(), context.Canceled) {
			t.Fatalf("Err = %v, want the turn's context.Canceled", c.Err())
		}
	})
}
