package agents

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/surfaces-bot/surfaces/actors"
)

// A dead agent costs a connect attempt for its first failures only: then
// its circuit opens and dials fail at once (still ErrAgentUnavailable, so
// the user gets the usual notice), one trial goes through after the
// cool-down, and the first good dial closes the circuit again.
func TestDialerBreaker(t *testing.T) {
	var hits atomic.Int32
	var up atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if !up.Load() {
			http.Error(w, "agent down", http.StatusServiceUnavailable)
			return
		}
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		ws.Write(r.Context(), websocket.MessageText, []byte(`{"type":"STATUS","status":"ready"}`))
		for { // until the client closes (answering its close frame)
			if _, _, err := ws.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	d := NewDialer(Options{BreakerThreshold: 3, BreakerCooldown: 10 * time.Second, PingInterval: -1})
	d.now = func() time.Time { return now }
	agent := actors.AgentRef{ID: "a", BaseURL: srv.URL + "/a/"}
	dial := func() error {
		c, err := d.Dial(context.Background(), agent, "1")
		if err == nil {
			c.Close()
		}
		return err
	}

	for i := 1; i <= 3; i++ {
		if err := dial(); !errors.Is(err, actors.ErrAgentUnavailable) || errors.Is(err, ErrBreakerOpen) {
			t.Fatalf("dial %d: %v, want a real failure", i, err)
		}
	}
	if err := dial(); !errors.Is(err, ErrBreakerOpen) || !errors.Is(err, actors.ErrAgentUnavailable) {
		t.Fatalf("dial 4: %v, want the open circuit", err)
	}
	if n := hits.Load(); n != 3 {
		t.Fatalf("the agent was hit %d times, want 3: an open circuit must not dial", n)
	}
	if open := d.CircuitsOpen(); !open["a"] {
		t.Fatalf("CircuitsOpen() = %v, want agent a open", open)
	}

	now = now.Add(13 * time.Second) // past the cool-down (10 s ±20%)
	if open := d.CircuitsOpen(); !open["a"] {
		t.Fatalf("CircuitsOpen() = %v past the cool-down, before any trial: want agent a still open", open)
	}
	if err := dial(); errors.Is(err, ErrBreakerOpen) || hits.Load() != 4 {
		t.Fatalf("the trial after the cool-down: %v, %d hits, want one real dial", err, hits.Load())
	}
	if err := dial(); !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("after a failed trial: %v, want the circuit open again", err)
	}
	now = now.Add(13 * time.Second) // not past the doubled cool-down (20 s ±20%)
	if err := dial(); !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("within the doubled cool-down: %v, want the circuit open", err)
	}

	up.Store(true)
	now = now.Add(30 * time.Second)
	if err := dial(); err != nil {
		t.Fatalf("the agent is back: %v", err)
	}
	if err := dial(); err != nil {
		t.Fatalf("after the circuit closed: %v", err)
	}
	if open := d.CircuitsOpen(); open["a"] {
		t.Fatalf("CircuitsOpen() = %v, want agent a closed", open)
	}
}

// A dial the caller gives up is not the agent's fault: it neither counts
// nor holds the half-open trial.
func TestBreakerIgnoresAbandonedDials(t *testing.T) {
	b := &breaker{threshold: 1, base: time.Second, max: time.Minute}
	now := time.Now()
	b.failed(now)
	now = now.Add(2 * time.Second)
	if ok, _ := b.allow(now); !ok {
		t.Fatal("no trial after the cool-down")
	}
	b.abandoned()
	if ok, _ := b.allow(now); !ok {
		t.Fatal("an abandoned trial kept the slot")
	}
}
