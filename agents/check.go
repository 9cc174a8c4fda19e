package agents

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
)

// CheckStage is how far a check of one agent got: the stage it failed in,
// or CheckOK.
type CheckStage string

// The stages of a check, in order.
const (
	// CheckConnect: the TCP connect and WebSocket upgrade.
	CheckConnect CheckStage = "connect"
	// CheckStatus: the wait for the agent's STATUS frame.
	CheckStatus CheckStage = "status"
	// CheckTurn: one USER_MESSAGE and the wait for its END (only with
	// CheckOptions.Message).
	CheckTurn CheckStage = "turn"
	// CheckOK: every stage passed.
	CheckOK CheckStage = "ok"
)

// DefaultCheckTimeout bounds the check of one agent, all stages together.
const DefaultCheckTimeout = 10 * time.Second

// CheckOptions configures Dialer.Check. Zero fields take the defaults noted.
type CheckOptions struct {
	// Message, when not empty, is sent as one turn after STATUS; the check
	// then passes only when the turn ends with AGENT_EVENT_END.
	Message string
	// Timeout bounds the check of each agent, all stages together (default
	// DefaultCheckTimeout). The dialer's own connect and STATUS timeouts
	// still apply inside it.
	Timeout time.Duration
	// ChatID is the platform chat id the probe connects with (default
	// ProbeChatID(time.Now())).
	ChatID string
}

// ProbeChatID is the chat id a check connects with when none is given: the
// Unix time in nanoseconds as a decimal string. Real chat ids are decimals
// from a sequence that starts at 1 (docs/agent-protocol.md, "Endpoint"), so an
// agent that parses them as integers accepts the probe's, and it is so far
// above any real one (about 1.8e18) that the probe never lands in a user's
// conversation: it is a fresh context the agent may forget.
func ProbeChatID(now time.Time) string {
	return strconv.FormatInt(now.UnixNano(), 10)
}

// CheckResult is the outcome of checking one agent.
type CheckResult struct {
	// AgentID is the registry id of the agent.
	AgentID string
	// URL is the WebSocket URL dialled, exactly as the bot would for the
	// probe's chat id (empty when base_url does not normalise).
	URL string
	// ChatID is the probe's chat id.
	ChatID string
	// Stage is CheckOK, or the stage that failed.
	Stage CheckStage
	// Connect, Status and Turn are how long each stage took (zero for a
	// stage not reached; the failed stage's time is until it failed), and
	// Total the whole check.
	Connect, Status, Turn, Total time.Duration
	// Reply is the text the agent streamed during the turn.
	Reply string
	// TokensUsed is what the agent reported with END, 0 if nothing.
	TokensUsed int64
	// Err says why the check failed; nil when Stage is CheckOK.
	Err error
}

// OK reports whether every stage passed.
func (r CheckResult) OK() bool { return r.Stage == CheckOK && r.Err == nil }

// Check probes every agent concurrently the way the bot talks to it (same
// URL normalisation, upgrade options, frame limit and STATUS handling as
// Dial, and with opts.Message one turn over a Conn) and returns one result
// per agent, in the order given. It returns once every check has ended;
// each is bounded by opts.Timeout, and all end early when ctx does.
//
// The probe uses its own chat id (ProbeChatID) and closes each connection
// normally (code 1000) when done. A confirmation request during the turn
// is declined, so that the probe never approves an action.
func (d *Dialer) Check(ctx context.Context, refs []actors.AgentRef, opts CheckOptions) []CheckResult {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultCheckTimeout
	}
	if opts.ChatID == "" {
		opts.ChatID = ProbeChatID(time.Now())
	}
	results := make([]CheckResult, len(refs))
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Go(func() { results[i] = d.checkOne(ctx, ref, opts) })
	}
	wg.Wait()
	return results
}

// checkOne runs the stages against one agent.
func (d *Dialer) checkOne(ctx context.Context, agent actors.AgentRef, opts CheckOptions) (r CheckResult) {
	r = CheckResult{AgentID: agent.ID, ChatID: opts.ChatID, Stage: CheckConnect}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	log := zerolog.Ctx(ctx).With().Str("agent_id", agent.ID).Str("chat_id", opts.ChatID).Logger()
	// Deferred calls run last first: the result is complete before the
	// connection is closed, and closing is not part of the latency.
	var ws *websocket.Conn
	var conn *Conn
	defer func() {
		if ws == nil {
			return
		}
		if ctx.Err() != nil || conn == nil {
			// Timed out: the agent may not answer a close handshake (which
			// waits up to 10 s), so drop the socket at once.
			_ = ws.CloseNow()
		}
		if conn != nil {
			if err := conn.Close(); err != nil {
				log.Debug().Err(err).Msg("agent check: close")
			}
		}
	}()
	defer func() {
		r.Total = time.Since(start)
		if r.Err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			r.Err = fmt.Errorf("check timed out after %s in stage %s: %w", opts.Timeout, r.Stage, r.Err)
		}
		log.Debug().Err(r.Err).Str("stage", string(r.Stage)).Dur("took", r.Total).Msg("agent check")
	}()

	// connect: as Dialer.connect, split so the stages are told apart.
	base, err := NormalizeBaseURL(agent.BaseURL)
	if err != nil {
		r.Err = err
		return r
	}
	r.URL = EndpointURL(base, opts.ChatID)
	dctx, dcancel := context.WithTimeout(ctx, d.opts.ConnectTimeout)
	ws, resp, err := websocket.Dial(dctx, r.URL, &websocket.DialOptions{HTTPClient: d.opts.HTTPClient})
	if err != nil {
		ws = nil
	}
	timedOut := errors.Is(dctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	dcancel()
	r.Connect = time.Since(start)
	if err != nil {
		switch {
		case resp != nil && resp.StatusCode != http.StatusSwitchingProtocols:
			r.Err = fmt.Errorf("upgrade refused with HTTP %s", resp.Status)
		case timedOut:
			r.Err = fmt.Errorf("no connection within %s: %w", d.opts.ConnectTimeout, err)
		default:
			r.Err = err
		}
		return r
	}
	ws.SetReadLimit(d.opts.MaxFrameBytes)

	// status: the very wait Dial does.
	r.Stage = CheckStatus
	status, err := d.waitStatus(ctx, ws, agent)
	r.Status = time.Since(start) - r.Connect
	if err != nil {
		r.Err = err
		return r
	}
	conn = newConn(log.WithContext(context.Background()), ws, agent, opts.ChatID, d.opts,
		slices.Contains(status.Capabilities, CapabilityCancel))
	if opts.Message == "" {
		r.Stage = CheckOK
		return r
	}

	// turn: one USER_MESSAGE, events until the terminal one.
	r.Stage = CheckTurn
	turnStart := time.Now()
	defer func() { r.Turn = time.Since(turnStart) }()
	events, err := conn.Turn(ctx, actors.UserMessage{Text: opts.Message})
	if err != nil {
		r.Err = err
		return r
	}
	var reply strings.Builder
	for ev := range events {
		switch ev.Kind {
		case actors.AgentTextChunk:
			reply.WriteString(ev.Text)
		case actors.AgentConfirmRequest:
			if err := conn.Confirm(ctx, ev.ID, false); err != nil {
				log.Debug().Err(err).Msg("agent check: declining a confirmation request")
			}
		case actors.AgentEnd:
			r.Stage, r.TokensUsed = CheckOK, ev.TokensUsed
		case actors.AgentFailed:
			r.Err = ev.Err
			if r.Err == nil {
				r.Err = actors.ErrAgentDisconnected
			}
		}
	}
	r.Reply = reply.String()
	if r.Stage != CheckOK && r.Err == nil {
		r.Err = errors.New("the turn ended without AGENT_EVENT_END")
	}
	return r
}
