package agents

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/surfaces-bot/surfaces/actors"
)

// hangGuard only stops a broken test from hanging forever; no test asserts
// on elapsed time.
const hangGuard = 20 * time.Second

// testAgent is an in-process agent endpoint the test drives frame by frame.
// It serves either on a real loopback socket (httptest) or, for tests that
// run inside a synctest bubble, over net.Pipe connections.
type testAgent struct {
	t       *testing.T
	baseURL string
	client  *http.Client // nil for the loopback server
	conns   chan *agentSide
	// noStatus makes the agent skip STATUS after the upgrade.
	noStatus bool
	// noReader makes the agent never read: pings go unanswered.
	noReader bool

	mu    sync.Mutex
	sides []*agentSide
}

// agentSide is the agent's end of one accepted connection.
type agentSide struct {
	t      *testing.T
	ws     *websocket.Conn
	chatID string
	in     chan map[string]any // frames from the client
	ended  chan struct{}       // closed when the client side is gone
	endErr error               // the read error that ended it
}

// newTestAgent serves on 127.0.0.1 with httptest.
func newTestAgent(t *testing.T) *testAgent {
	a := &testAgent{t: t, conns: make(chan *agentSide, 16)}
	srv := httptest.NewServer(a.handler())
	a.baseURL = srv.URL + "/agent_0/"
	t.Cleanup(func() {
		a.closeSides()
		srv.Close()
	})
	return a
}

// newPipeAgent serves over net.Pipe, for use inside synctest.Test where
// real sockets would not let time become virtual.
func newPipeAgent(t *testing.T) *testAgent {
	a := &testAgent{t: t, conns: make(chan *agentSide, 16), baseURL: "http://agent.test/agent_0/"}
	l := &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
	srv := &http.Server{Handler: a.handler()}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(l)
	}()
	tr := &http.Transport{DialContext: l.dial}
	a.client = &http.Client{Transport: tr}
	t.Cleanup(func() {
		a.closeSides()
		_ = srv.Close()
		<-served
		tr.CloseIdleConnections()
	})
	return a
}

func (a *testAgent) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const prefix = "/agent_0/v1/agent_ws/"
		if !strings.HasPrefix(r.URL.Path, prefix) {
			http.NotFound(w, r)
			return
		}
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		s := &agentSide{t: a.t, ws: ws, chatID: strings.Trim(strings.TrimPrefix(r.URL.Path, prefix), "/"),
			in: make(chan map[string]any, 16), ended: make(chan struct{})}
		a.mu.Lock()
		a.sides = append(a.sides, s)
		a.mu.Unlock()
		if a.noReader {
			close(s.ended)
		} else {
			go s.readLoop()
		}
		if !a.noStatus {
			s.send(`{"type":"STATUS","status":"ready","agent_id":"agent-0"}`)
		}
		a.conns <- s
	})
}

func (a *testAgent) closeSides() {
	a.mu.Lock()
	sides := a.sides
	a.mu.Unlock()
	for _, s := range sides {
		_ = s.ws.CloseNow()
		<-s.ended
	}
}

func (a *testAgent) ref() actors.AgentRef {
	return actors.AgentRef{ID: "agent-0", BaseURL: a.baseURL, WorkspacePath: "/agents/0"}
}

// dialer returns a Dialer for this agent with opts.
func (a *testAgent) dialer(opts Options) *Dialer {
	opts.HTTPClient = a.client
	return NewDialer(opts)
}

// dial connects and returns both ends; the connection is closed at cleanup.
func (a *testAgent) dial(opts Options) (*Conn, *agentSide) {
	a.t.Helper()
	c, err := a.dialer(opts).DialConn(context.Background(), a.ref(), "1")
	if err != nil {
		a.t.Fatalf("Dial: %v", err)
	}
	a.t.Cleanup(func() { _ = c.Close() })
	return c, a.accepted()
}

// accepted returns the next connection the agent accepted.
func (a *testAgent) accepted() *agentSide {
	a.t.Helper()
	select {
	case s := <-a.conns:
		return s
	case <-time.After(hangGuard):
		a.t.Fatal("agent accepted no connection")
		return nil
	}
}

func (s *agentSide) readLoop() {
	defer close(s.ended)
	for {
		typ, data, err := s.ws.Read(context.Background())
		if err != nil {
			s.endErr = err
			return
		}
		var m map[string]any
		if typ != websocket.MessageText || json.Unmarshal(data, &m) != nil {
			m = map[string]any{"type": "<invalid>"}
		}
		s.in <- m
	}
}

// recv returns the next frame the client sent.
func (s *agentSide) recv() map[string]any {
	s.t.Helper()
	select {
	case m := <-s.in:
		return m
	case <-s.ended:
		s.t.Fatalf("connection ended while waiting for a frame: %v", s.endErr)
	case <-time.After(hangGuard):
		s.t.Fatal("no frame from the client")
	}
	return nil
}

func (s *agentSide) send(frame string) {
	s.t.Helper()
	if err := s.ws.Write(context.Background(), websocket.MessageText, []byte(frame)); err != nil {
		s.t.Fatalf("agent write: %v", err)
	}
}

func (s *agentSide) sendBinary(b []byte) {
	s.t.Helper()
	if err := s.ws.Write(context.Background(), websocket.MessageBinary, b); err != nil {
		s.t.Fatalf("agent write: %v", err)
	}
}

// waitEnd waits until the client side is gone and returns the read error.
func (s *agentSide) waitEnd() error {
	s.t.Helper()
	select {
	case <-s.ended:
		return s.endErr
	case <-time.After(hangGuard):
		s.t.Fatal("client never closed the connection")
		return nil
	}
}

// collect drains a turn's channel until it is closed.
func collect(t *testing.T, ch <-chan actors.AgentEvent) []actors.AgentEvent {
	t.Helper()
	var evs []actors.AgentEvent
	guard := time.After(hangGuard)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		case <-guard:
			t.Fatalf("turn channel not closed; got %+v", evs)
		}
	}
}

// terminal checks that evs ends with exactly one terminal event and returns it.
func terminal(t *testing.T, evs []actors.AgentEvent) actors.AgentEvent {
	t.Helper()
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	for i, ev := range evs[:len(evs)-1] {
		if ev.Terminal() {
			t.Fatalf("terminal event at %d of %d: %+v", i, len(evs), evs)
		}
	}
	last := evs[len(evs)-1]
	if !last.Terminal() {
		t.Fatalf("last event not terminal: %+v", evs)
	}
	return last
}

// waitDone waits for a connection to end.
func waitDone(t *testing.T, c actors.AgentConn) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(hangGuard):
		t.Fatal("connection did not end")
	}
}

// pipeListener hands the server side of in-memory pipes to http.Server.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
