package room

import (
	"context"
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// reactStop is the reaction that stops the reply it is put on.
const reactStop = "🛑"

type (
	// cancelSent reports whether the agent was asked to stop (USER_CANCEL).
	cancelSent struct {
		turnID uint64
		sent   bool
		err    error
	}
	// cancelGraceOver: the stopped turn's agent had CancelGrace to end it.
	cancelGraceOver struct{ turnID uint64 }
)

// stopTurn ends the running turn at once, as the user sees it (PRODUCT R3.8):
// the reply keeps what was written, marked stopped, and typing goes off.
// The agent is asked to stop (USER_CANCEL) when it can be, else its
// connection is closed; the next message waits until the agent's turn is
// really over, or until CancelGrace, after which the connection is closed.
// Text the agent sends after the stop is not shown: the user asked for the
// reply to end now.
func (a *roomActor) stopTurn(c actor.Context) {
	t := a.turn
	if t == nil || t.ended {
		a.notice(c, a.deps.Catalog.T(catalog.NothingToStop))
		return
	}
	a.log.Info().Str("event_id", t.eventID).Msg("turn stopped by the user")
	t.ended, t.stopped = true, true
	if conn := a.conn; conn != nil && a.connTurn == t.id {
		a.holdTurns++
		a.stopping, a.cancelling = t.id, t.id
		id := t.id
		kit.RunTask(c, a.ctx, func(ctx context.Context) any {
			sent, err := conn.Cancel(ctx)
			return &cancelSent{turnID: id, sent: sent, err: err}
		})
	}
	a.pump(c)
}

// cancelSentDone runs once the USER_CANCEL write returned. The next turn
// waits for it even when the agent's turn ended meanwhile (its END was on
// its way when the user stopped it): a cancel still being written could
// otherwise reach the agent after the next USER_MESSAGE and stop that turn
// instead. A cancel the agent gets between turns is ignored by it.
func (a *roomActor) cancelSentDone(c actor.Context, m *cancelSent) {
	if a.cancelling != m.turnID {
		return // an earlier incarnation's
	}
	a.cancelling = 0
	if a.stopping != m.turnID {
		a.releaseTurns(c) // the agent's turn already ended: the hold was ours
		return
	}
	if m.err != nil || !m.sent {
		if m.err != nil {
			a.log.Warn().Err(m.err).Msg("failed to send USER_CANCEL, closing the connection")
		}
		a.endStopping(c, true)
		return
	}
	kit.SendLater(c, a.opts.CancelGrace, &cancelGraceOver{turnID: m.turnID})
}

func (a *roomActor) cancelGraceOverDone(c actor.Context, m *cancelGraceOver) {
	if a.stopping == m.turnID {
		a.log.Warn().Stringer("grace", a.opts.CancelGrace).Msg("the agent did not end the stopped turn in time, closing the connection")
		a.endStopping(c, true)
	}
}

// stoppedTurnOver is called with every event of a turn the user stopped: a
// terminal one means the agent's side is over and the connection is free.
func (a *roomActor) stoppedTurnOver(c actor.Context, turnID uint64, ev actors.AgentEvent) {
	if a.stopping == turnID && ev.Terminal() {
		a.endStopping(c, false)
	}
}

// endStopping lets the next turn go, closing the connection first if the
// agent could not be asked to stop or did not in time. While the USER_CANCEL
// is still being written the next turn waits for that (cancelSentDone).
func (a *roomActor) endStopping(c actor.Context, closeConn bool) {
	a.stopping = 0
	if closeConn {
		a.dropConn() // the agent did not stop its turn
	}
	if a.cancelling != 0 {
		return
	}
	a.releaseTurns(c)
}

// reactedStop stops the turn when the reaction is a 🛑 on its reply.
func (a *roomActor) reactedStop(c actor.Context, m *actors.ReactionReceived) bool {
	t := a.turn
	if t == nil || !strings.HasPrefix(m.Key, reactStop) {
		return false
	}
	for _, id := range t.reply.eventIDs {
		if id != "" && id == m.RelatesTo {
			a.stopTurn(c)
			return true
		}
	}
	return false
}
