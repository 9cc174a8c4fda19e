package refagent

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/agents"
	"github.com/surfaces-bot/surfaces/test/wait"
)

// clientOpts is for tests that never wait for a client timeout to fire: the
// timeouts only bound a broken run.
var clientOpts = agents.Options{ConnectTimeout: 5 * time.Second, StatusTimeout: 5 * time.Second,
	TurnIdleTimeout: 10 * time.Second, PingInterval: -1}

// testRef is a reference agent server on a loopback httptest server.
type testRef struct {
	t   *testing.T
	srv *Server
	url string
	cfg Config
}

// newTestRef serves cfg; agents default to agent-0 and agent-1 with
// temporary workspaces.
func newTestRef(t *testing.T, cfg Config) *testRef {
	t.Helper()
	if len(cfg.Agents) == 0 {
		cfg.Agents = []Agent{{ID: "agent-0", Workspace: t.TempDir()}, {ID: "agent-1", Workspace: t.TempDir()}}
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeEcho
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close()
		hs.Close()
	})
	return &testRef{t: t, srv: s, url: hs.URL, cfg: cfg}
}

func (r *testRef) ref(i int) actors.AgentRef {
	a := r.cfg.Agents[i]
	return actors.AgentRef{ID: a.ID, BaseURL: r.url + AgentPrefix(a.ID), WorkspacePath: a.Workspace}
}

// dial connects the agents client to agent i at chatID.
func (r *testRef) dial(i int, chatID string, opts agents.Options) actors.AgentConn {
	r.t.Helper()
	c, err := agents.NewDialer(opts).Dial(context.Background(), r.ref(i), chatID)
	if err != nil {
		r.t.Fatalf("Dial: %v", err)
	}
	r.t.Cleanup(func() { _ = c.Close() })
	return c
}

// runTurn runs one turn and returns all its events.
func runTurn(t *testing.T, c actors.AgentConn, msg actors.UserMessage) []actors.AgentEvent {
	t.Helper()
	ch, err := c.Turn(context.Background(), msg)
	if err != nil {
		t.Fatalf("Turn: %v", err)
	}
	return drain(t, ch)
}

// drain returns the events of a turn once its channel is closed.
func drain(t *testing.T, ch <-chan actors.AgentEvent) []actors.AgentEvent {
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

// text concatenates the text chunks of a turn.
func text(evs []actors.AgentEvent) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.Kind == actors.AgentTextChunk {
			b.WriteString(ev.Text)
		}
	}
	return b.String()
}

func last(t *testing.T, evs []actors.AgentEvent) actors.AgentEvent {
	t.Helper()
	if len(evs) == 0 || !evs[len(evs)-1].Terminal() {
		t.Fatalf("turn without terminal event: %+v", evs)
	}
	return evs[len(evs)-1]
}

func count(evs []actors.AgentEvent, k actors.AgentEventKind) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

func newDialer() *agents.Dialer { return agents.NewDialer(clientOpts) }
