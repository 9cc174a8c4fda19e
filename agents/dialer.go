package agents

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
)

// Options configures a Dialer. Zero fields take the defaults below.
type Options struct {
	// ConnectTimeout bounds the TCP connect and WebSocket upgrade (default
	// 10 s). It also bounds the write of each frame.
	ConnectTimeout time.Duration
	// StatusTimeout bounds the wait for the agent's STATUS frame after the
	// upgrade (default 10 s).
	StatusTimeout time.Duration
	// TurnIdleTimeout ends a turn whose agent sent nothing for that long
	// (default 120 s). Every event resets it.
	TurnIdleTimeout time.Duration
	// PingInterval is how often an open connection is pinged; a ping not
	// answered within the interval ends the connection (default 30 s;
	// negative disables pings).
	PingInterval time.Duration
	// MaxFrameBytes bounds one incoming frame (default 1 MiB); a larger
	// frame is a protocol error.
	MaxFrameBytes int64
	// HTTPClient performs the upgrade request; nil means a plain client whose
	// only deadline is ConnectTimeout. Tests use it to dial in-memory pipes.
	HTTPClient *http.Client
	// BreakerThreshold is how many dials of one agent may fail in a row
	// before its circuit opens (default 3; negative disables the breaker).
	BreakerThreshold int
	// BreakerCooldown is the first cool-down of an open circuit (default
	// 5 s); it doubles on every failed trial, up to BreakerMaxCooldown
	// (default 60 s).
	BreakerCooldown    time.Duration
	BreakerMaxCooldown time.Duration
}

// The defaults of Options.
const (
	DefaultConnectTimeout  = 10 * time.Second
	DefaultStatusTimeout   = 10 * time.Second
	DefaultTurnIdleTimeout = 120 * time.Second
	DefaultPingInterval    = 30 * time.Second
	DefaultMaxFrameBytes   = 1 << 20
)

func (o Options) withDefaults() Options {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.StatusTimeout <= 0 {
		o.StatusTimeout = DefaultStatusTimeout
	}
	if o.TurnIdleTimeout <= 0 {
		o.TurnIdleTimeout = DefaultTurnIdleTimeout
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if o.BreakerThreshold == 0 {
		o.BreakerThreshold = 3
	}
	if o.BreakerCooldown <= 0 {
		o.BreakerCooldown = 5 * time.Second
	}
	if o.BreakerMaxCooldown < o.BreakerCooldown {
		o.BreakerMaxCooldown = max(60*time.Second, o.BreakerCooldown)
	}
	return o
}

// Dialer opens agent connections, with one circuit breaker per agent (see
// breaker). It is safe for concurrent use.
type Dialer struct {
	opts     Options
	breakers sync.Map // agent id → *breaker
	now      func() time.Time
}

var _ actors.AgentDialer = (*Dialer)(nil)

// NewDialer returns a Dialer with opts, zero fields set to their defaults.
func NewDialer(opts Options) *Dialer {
	return &Dialer{opts: opts.withDefaults(), now: time.Now}
}

// Options returns the effective options, defaults applied.
func (d *Dialer) Options() Options { return d.opts }

// Dial implements actors.AgentDialer: it connects to the agent's endpoint
// for chatID and waits for STATUS. Every error wraps
// actors.ErrAgentUnavailable and says why. ctx bounds only the dial; the
// connection lives until it is closed or breaks, and logs with ctx's logger.
func (d *Dialer) Dial(ctx context.Context, agent actors.AgentRef, chatID string) (actors.AgentConn, error) {
	c, err := d.DialConn(ctx, agent, chatID)
	if err != nil {
		// Never return a typed nil inside the interface.
		return nil, err
	}
	return c, nil
}

// DialConn is Dial returning the concrete connection.
func (d *Dialer) DialConn(ctx context.Context, agent actors.AgentRef, chatID string) (*Conn, error) {
	log := zerolog.Ctx(ctx).With().Str("agent_id", agent.ID).Str("chat_id", chatID).Logger()
	b := d.breaker(agent.ID)
	if ok, retryIn := b.allow(d.now()); !ok {
		log.Debug().Dur("retry_in", retryIn).Msg("agent circuit open, not dialling")
		return nil, fmt.Errorf("failed to dial agent %q for chat %q: %w: %w (next try in %s)",
			agent.ID, chatID, actors.ErrAgentUnavailable, ErrBreakerOpen, retryIn.Round(time.Second))
	}
	ws, canCancel, err := d.connect(ctx, agent, chatID)
	if err != nil {
		if ctx.Err() != nil {
			b.abandoned() // the caller gave up: not the agent's fault
		} else if opened, cooldown := b.failed(d.now()); opened {
			log.Warn().Err(err).Dur("cooldown", cooldown).Msg("agent unreachable, circuit open: messages get a notice at once until it is back")
		} else {
			log.Warn().Err(err).Msg("agent dial failed")
		}
		return nil, fmt.Errorf("failed to dial agent %q for chat %q: %w: %w", agent.ID, chatID, actors.ErrAgentUnavailable, err)
	}
	if b.succeeded() {
		log.Info().Msg("agent reachable again, circuit closed")
	}
	log.Debug().Bool("can_cancel", canCancel).Msg("agent connected")
	return newConn(log.WithContext(context.Background()), ws, agent, chatID, d.opts, canCancel), nil
}

// breaker returns the circuit breaker of agent id.
func (d *Dialer) breaker(id string) *breaker {
	if b, ok := d.breakers.Load(id); ok {
		return b.(*breaker)
	}
	b, _ := d.breakers.LoadOrStore(id, &breaker{
		threshold: d.opts.BreakerThreshold, base: d.opts.BreakerCooldown, max: d.opts.BreakerMaxCooldown,
	})
	return b.(*breaker)
}

// connect upgrades and waits for STATUS; on error the socket is closed.
// canCancel reports whether STATUS listed the cancel capability.
func (d *Dialer) connect(ctx context.Context, agent actors.AgentRef, chatID string) (ws *websocket.Conn, canCancel bool, err error) {
	if chatID == "" {
		return nil, false, errors.New("empty chat id")
	}
	base, err := NormalizeBaseURL(agent.BaseURL)
	if err != nil {
		return nil, false, err
	}
	dctx, cancel := context.WithTimeout(ctx, d.opts.ConnectTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(dctx, EndpointURL(base, chatID), &websocket.DialOptions{HTTPClient: d.opts.HTTPClient})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, false, fmt.Errorf("upgrade refused with HTTP %s", resp.Status)
		}
		if errors.Is(dctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, false, fmt.Errorf("no connection within %s: %w", d.opts.ConnectTimeout, err)
		}
		return nil, false, err
	}
	ws.SetReadLimit(d.opts.MaxFrameBytes)
	status, err := d.waitStatus(ctx, ws, agent)
	if err != nil {
		_ = ws.CloseNow()
		return nil, false, err
	}
	return ws, slices.Contains(status.Capabilities, CapabilityCancel), nil
}

// waitStatus reads frames until STATUS. Frames before it are ignored unless
// they break the protocol or are an ERROR, which an agent sends when it
// cannot take the conversation.
func (d *Dialer) waitStatus(ctx context.Context, ws *websocket.Conn, agent actors.AgentRef) (StatusFrame, error) {
	sctx, cancel := context.WithTimeout(ctx, d.opts.StatusTimeout)
	defer cancel()
	for {
		typ, data, err := ws.Read(sctx)
		if err != nil {
			if errors.Is(sctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
				return StatusFrame{}, fmt.Errorf("no STATUS within %s", d.opts.StatusTimeout)
			}
			return StatusFrame{}, fmt.Errorf("failed to read STATUS: %w", err)
		}
		if typ != websocket.MessageText {
			return StatusFrame{}, protocolError("binary frame before STATUS")
		}
		f, err := DecodeFrame(ctx, data, agent.WorkspacePath)
		if err != nil {
			return StatusFrame{}, err
		}
		switch {
		case f.Type == TypeStatus:
			zerolog.Ctx(ctx).Debug().Str("agent_id", agent.ID).Str("status", f.Status.Status).
				Str("reported_agent_id", f.Status.AgentID).Strs("capabilities", f.Status.Capabilities).Msg("agent sent STATUS")
			return f.Status, nil
		case f.Event.Kind == actors.AgentFailed:
			return StatusFrame{}, f.Event.Err
		default:
			zerolog.Ctx(ctx).Debug().Str("frame_type", f.Type).Msg("ignoring agent frame before STATUS")
		}
	}
}
