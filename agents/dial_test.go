package agents

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
)

// Every way a Dial can fail wraps actors.ErrAgentUnavailable and returns
// no connection.
func TestDialErrors(t *testing.T) {
	stopped := httptest.NewServer(nil)
	stoppedURL := stopped.URL
	stopped.Close()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) actors.AgentRef
		also  error
	}{
		{"server down", func(t *testing.T) actors.AgentRef {
			return actors.AgentRef{ID: "a", BaseURL: stoppedURL + "/agent_0/"}
		}, nil},
		{"upgrade refused", func(t *testing.T) actors.AgentRef {
			a := newTestAgent(t)
			return actors.AgentRef{ID: "a", BaseURL: strings.Replace(a.baseURL, "agent_0", "nope", 1)}
		}, nil},
		{"bad base URL", func(t *testing.T) actors.AgentRef {
			return actors.AgentRef{ID: "a", BaseURL: "ftp://x/"}
		}, ErrBadURL},
		{"no STATUS", func(t *testing.T) actors.AgentRef {
			a := newTestAgent(t)
			a.noStatus = true
			return a.ref()
		}, nil},
		{"ERROR instead of STATUS", func(t *testing.T) actors.AgentRef {
			a := newTestAgent(t)
			a.noStatus = true
			go func() {
				s := <-a.conns
				s.send(`{"type":"ERROR","message":"no capacity"}`)
			}()
			return a.ref()
		}, actors.ErrAgentReported},
		{"garbage instead of STATUS", func(t *testing.T) actors.AgentRef {
			a := newTestAgent(t)
			a.noStatus = true
			go func() {
				s := <-a.conns
				s.send(`not json`)
			}()
			return a.ref()
		}, actors.ErrAgentProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := tc.setup(t)
			opts := fastOpts
			opts.StatusTimeout = 50 * time.Millisecond
			c, err := NewDialer(opts).Dial(context.Background(), ref, "1")
			if !errors.Is(err, actors.ErrAgentUnavailable) {
				t.Fatalf("Dial = %v, %v; want ErrAgentUnavailable", c, err)
			}
			if c != nil {
				t.Fatalf("Dial returned a connection with an error")
			}
			if tc.also != nil && !errors.Is(err, tc.also) {
				t.Fatalf("Dial err = %v, want it to wrap %v", err, tc.also)
			}
		})
	}
}
