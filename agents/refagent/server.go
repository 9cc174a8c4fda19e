package refagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
)

// Mode selects how the agents answer turns.
type Mode string

// The modes of PRODUCT R9.
const (
	ModeEcho     Mode = "echo"
	ModeScripted Mode = "scripted"
	ModeOpenAI   Mode = "openai"
)

// Agent is one agent the server hosts.
type Agent struct {
	// ID is reported in STATUS and in Received.
	ID string
	// Prefix is the URL path prefix, e.g. "/agent_0/"; empty means
	// AgentPrefix(ID).
	Prefix string
	// Workspace is the agent's /workspace on disk. Files are written under
	// its output/ directory; attachments are looked up under it.
	Workspace string
}

// AgentPrefix is the platform's path prefix for an agent id: "agent-0" is
// served under "/agent_0/".
func AgentPrefix(id string) string {
	return "/" + strings.ReplaceAll(id, "-", "_") + "/"
}

// Config configures a Server. Zero durations take the defaults noted.
type Config struct {
	Agents []Agent
	Mode   Mode
	// ChunkDelay is the pause between echo chunks (default none).
	ChunkDelay time.Duration
	// NoCancel leaves the cancel capability out of STATUS, for tests of a
	// client's fallback (closing the connection); USER_CANCEL is then
	// ignored.
	NoCancel bool
	// SlowDelay is the pause between the chunks of "/slow" (default 200 ms),
	// SlowChunks how many it sends (default 20).
	SlowDelay  time.Duration
	SlowChunks int
	// Script drives ModeScripted.
	Script *Script
	// OpenAI drives ModeOpenAI.
	OpenAI OpenAIConfig
}

// Received is one client frame the server got, for tests.
type Received struct {
	AgentID     string
	ChatID      string
	Type        string // USER_MESSAGE, USER_CONFIRM or USER_CANCEL
	Text        string
	Attachments []string
	ConfirmID   string
	Approved    bool
}

// Server serves the configured agents. Create it with New.
type Server struct {
	cfg    Config
	agents map[string]Agent // by prefix
	openai *openAIClient

	ctx      context.Context // cancelled by Close: ends every session
	cancel   context.CancelFunc
	sessions sync.WaitGroup

	mu       sync.Mutex
	closed   bool // no new sessions once Close started
	received []Received
	seq      int // confirmation and tool-call ids
	// failedOnce remembers the texts of /flaky turns that already failed.
	failedOnce map[string]bool
}

// New validates cfg and returns a server.
func New(cfg Config) (*Server, error) {
	if len(cfg.Agents) == 0 {
		return nil, errors.New("failed to configure reference agent: no agents")
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = 200 * time.Millisecond
	}
	if cfg.SlowChunks <= 0 {
		cfg.SlowChunks = 20
	}
	s := &Server{cfg: cfg, agents: map[string]Agent{}}
	for i, a := range cfg.Agents {
		if a.ID == "" || a.Workspace == "" {
			return nil, fmt.Errorf("failed to configure reference agent: agents[%d] needs an id and a workspace", i)
		}
		if a.Prefix == "" {
			a.Prefix = AgentPrefix(a.ID)
		}
		a.Prefix = "/" + strings.Trim(a.Prefix, "/") + "/"
		if a.Prefix == "//" {
			a.Prefix = "/"
		}
		ws, err := filepath.Abs(a.Workspace)
		if err != nil {
			return nil, fmt.Errorf("failed to resolve workspace of %s: %w", a.ID, err)
		}
		a.Workspace = ws
		if _, dup := s.agents[a.Prefix]; dup {
			return nil, fmt.Errorf("failed to configure reference agent: prefix %s used twice", a.Prefix)
		}
		s.agents[a.Prefix] = a
		cfg.Agents[i] = a
	}
	switch cfg.Mode {
	case ModeEcho:
	case ModeScripted:
		if cfg.Script == nil {
			return nil, errors.New("failed to configure reference agent: scripted mode needs a script")
		}
	case ModeOpenAI:
		c, err := newOpenAIClient(cfg.OpenAI)
		if err != nil {
			return nil, err
		}
		s.openai = c
	default:
		return nil, fmt.Errorf("failed to configure reference agent: unknown mode %q", cfg.Mode)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Handler routes {prefix}v1/agent_ws/{chat_id}/ to the agent of prefix.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

// Serve serves on l until ctx is done, then closes every connection
// (status 1001) and returns. ctx's logger is used for every request.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		s.Close()
		return fmt.Errorf("failed to serve: %w", err)
	case <-ctx.Done():
	}
	// WebSocket sessions are hijacked connections that Shutdown does not
	// track: close them first, with a close frame, then the HTTP server.
	s.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	if err != nil {
		return fmt.Errorf("failed to shut down: %w", err)
	}
	return nil
}

// Close ends every WebSocket session and waits for their goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.sessions.Wait()
}

// Received returns a copy of every client frame received so far, in order.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

func (s *Server) record(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, r)
}

// nextID returns a fresh number for confirmation and tool-call ids.
// firstTry reports whether text is seen by a /flaky turn for the first time.
func (s *Server) firstTry(text string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failedOnce == nil {
		s.failedOnce = map[string]bool{}
	}
	first := !s.failedOnce[text]
	s.failedOnce[text] = true
	return first
}

func (s *Server) nextID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return s.seq
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	agent, chatID, ok := s.route(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	log := zerolog.Ctx(r.Context()).With().Str("agent_id", agent.ID).Str("chat_id", chatID).Logger()
	if !s.enter() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.sessions.Done()
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		log.Debug().Err(err).Msg("websocket upgrade failed")
		return
	}
	ws.SetReadLimit(1 << 20)
	ctx := log.WithContext(s.ctx)
	sess := &session{srv: s, agent: agent, chatID: chatID, ws: ws, confirms: make(chan confirmAnswer, 4)}
	sess.run(ctx)
}

// enter counts a new session unless Close has started; the mutex keeps Add
// from racing with Close's Wait.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.sessions.Add(1)
	return true
}

// route splits {prefix}v1/agent_ws/{chat_id}/ into the agent and chat id.
func (s *Server) route(p string) (Agent, string, bool) {
	i := strings.LastIndex(p, "/v1/agent_ws/")
	if i < 0 {
		return Agent{}, "", false
	}
	a, ok := s.agents[p[:i+1]]
	chatID := strings.Trim(p[i+len("/v1/agent_ws/"):], "/")
	if !ok || chatID == "" || strings.Contains(chatID, "/") {
		return Agent{}, "", false
	}
	return a, chatID, true
}
