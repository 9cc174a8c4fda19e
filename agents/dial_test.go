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
// no connection. Only "no STATUS" waits for a timeout, so only it shortens
// StatusTimeout, to 1 s (real sockets: TestStatusTimeout covers the same
// path in virtual time); every other case fails long before fastOpts'
// timeouts, which therefore cannot decide the outcome.
func TestDialErrors(t *testing.T) {
	stopped := httptest.NewServer(nil)
	stoppedURL := stopped.URL
	stopped.Close()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) actors.AgentRef
		also  error
		// statusTimeout replaces fastOpts.StatusTimeout when set.
		statusTimeout time.Duration
		// msg must appear in the error when set.
		msg string
	}{
		{"server down", func(t *testing.T) actors.AgentRef {
			return actors.AgentRef{ID: "a", BaseURL: stoppedURL + "/agent_0/"}
		}, nil, 0, ""},
		{"upgrade refused", func(t *testing.T) actors.AgentRef {
			a := newTestAgent(t)
			return actors.AgentRef{ID: "a", BaseURL: strings.Replace(a.baseURL, "agent_0", "nope", 1)}
		}, nil, 0, "upgrade refused with HTTP 404"},
		{"bad base URL", func(t *testing.T) actors.AgentRef {
			return actors.AgentRef{ID: "a", BaseURL: "ftp://x/"}
		}, ErrBadURL, 0, ""},
		{"no STATUS", func(t *testing.T) actors.AgentRef {
			a := newTestAgent(t)
			a.noStatus = true
			return a.ref()
		}, nil, time.Second, "no STATUS within 1s"},
		{"ERROR instead of STATUS", func(t *testing.T) actors.AgentRef {
			a := newTestAgent(t)
			a.greet = func(s *agentSide) { s.trySend(`{"type":"ERROR","message":"no capacity"}`) }
			return a.ref()
		}, actors.ErrAgentReported, 0, "no capacity"},
		{"garbage instead of STATUS", func(t *testing.T) actors.AgentRef {
			a := newTestAgent(t)
			a.greet = func(s *agentSide) { s.trySend(`not json`) }
			return a.ref()
		}, actors.ErrAgentProtocol, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := tc.setup(t)
			opts := fastOpts
			if tc.statusTimeout != 0 {
				opts.StatusTimeout = tc.statusTimeout
			}
			c, err := NewDialer(opts).Dial(context.Background(), ref, "1")
			if c != nil {
				_ = c.Close()
				t.Fatalf("Dial returned a connection (err %v); want none and ErrAgentUnavailable", err)
			}
			if !errors.Is(err, actors.ErrAgentUnavailable) {
				t.Fatalf("Dial err = %v, want ErrAgentUnavailable", err)
			}
			if tc.also != nil && !errors.Is(err, tc.also) {
				t.Fatalf("Dial err = %v, want it to wrap %v", err, tc.also)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Dial err = %v, want it to say %q", err, tc.msg)
			}
		})
	}
}
