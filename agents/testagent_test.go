package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/test/wait"
)

// hangGuard only stops a broken test from hanging forever; no test asserts
// on elapsed time. It is generous because it costs nothing when a test
// passes; inside a synctest bubble it is virtual and costs nothing at all.
const hangGuard = wait.Guard

// inBubble runs f in a synctest bubble with a real-clock watchdog. Guards
// inside the bubble run on virtual time, which only advances once every
// goroutine in it is durably blocked; a goroutine stuck on a mutex or a
// system call never is, so no guard could fire and the test would hang until
// go test's -timeout. The watchdog turns that into a panic naming the test;
// a bubble test takes milliseconds of real time, so it never fires by luck.
func inBubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	watchdog := time.AfterFunc(hangGuard, func() {
		panic(fmt.Sprintf("%s: its synctest bubble did not finish within %s of real time: a goroutine is stuck on "+
			"something that is not durably blocking (a mutex?), so virtual time cannot advance", t.Name(), hangGuard))
	})
	defer watchdog.Stop()
	synctest.Test(t, f)
}

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
	// greet, when set, replaces STATUS: it runs in the handler right after
	// the upgrade, before the connection is handed to conns. It must report
	// failures with t.Errorf, not t.Fatal (it is not the test goroutine).
	greet func(s *agentSide)
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
	// Cleanups run last-in first-out: the sides are closed before the server.
	t.Cleanup(srv.Close)
	t.Cleanup(a.closeSides)
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
	// Separate cleanups (run last-in first-out), so that one failing does
	// not leave the server's goroutines behind in the bubble.
	t.Cleanup(tr.CloseIdleConnections)
	t.Cleanup(func() {
		_ = srv.Close()
		wait.Recv(t, served, "http.Server.Serve to return after Close")
	})
	t.Cleanup(a.closeSides)
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
		switch {
		case a.greet != nil:
			a.greet(s)
		case !a.noStatus:
			s.trySend(`{"type":"STATUS","status":"ready","agent_id":"agent-0"}`)
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
		wait.Recv(a.t, s.ended, "the agent's read loop to end after CloseNow")
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
	return wait.Recv(a.t, a.conns, "the agent to accept a connection")
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
	guard := time.NewTimer(hangGuard)
	defer guard.Stop()
	select {
	case m := <-s.in:
		return m
	case <-s.ended:
	case <-guard.C:
	}
	// Frames read before the end (or the deadline) still count.
	select {
	case m := <-s.in:
		return m
	default:
	}
	select {
	case <-s.ended:
		s.t.Fatalf("connection ended while waiting for a frame from the client: %v", s.endErr)
	default:
		s.t.Fatalf("waited %s for a frame from the client", hangGuard)
	}
	return nil
}

func (s *agentSide) send(frame string) {
	s.t.Helper()
	if err := s.ws.Write(context.Background(), websocket.MessageText, []byte(frame)); err != nil {
		s.t.Fatalf("agent write: %v", err)
	}
}

// trySend is send for goroutines other than the test's (the handler, greet):
// it reports a failure without stopping the goroutine.
func (s *agentSide) trySend(frame string) {
	if err := s.ws.Write(context.Background(), websocket.MessageText, []byte(frame)); err != nil {
		s.t.Errorf("agent write of %s: %v", frame, err)
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
	wait.Recv(s.t, s.ended, "the client to close the connection")
	return s.endErr
}

// collect drains a turn's channel until it is closed.
func collect(t *testing.T, ch <-chan actors.AgentEvent) []actors.AgentEvent {
	t.Helper()
	var evs []actors.AgentEvent
	for {
		ev, ok := wait.RecvOK(t, ch, fmt.Sprintf("the next event or the end of the turn (events so far: %+v)", evs))
		if !ok {
			return evs
		}
		evs = append(evs, ev)
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
	wait.Recv(t, c.Done(), "the connection to end (Done)")
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
