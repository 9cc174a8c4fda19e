package room

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// A room that starts with a turn in flight (its record's TurnInFlight, left
// by a holder that stopped without ending the turn: a kill, a crash, a
// cluster member that died) owes its user a notice that the reply was cut.
// The record is cleared only after the reply's last post returned, so a
// holder stopped between the two leaves a complete reply behind.
//
// Most cut turns were still streaming: the reply cannot have ended, and the
// room tells its user at once. Before the last post may go out the turn's
// record says so (InFlightTurn.Ending, written and landed first: one more
// record write a turn, on the way to the final text only). A room that
// starts with an ending turn asks the homeserver for the mark that post
// carries (actors.ReplyEnd) before it speaks, and holds its queue meanwhile
// so the notice, when there is one, comes before the next reply. (The
// Matrix side makes the answer sure: it writes a probe into the room and
// reads until the probe shows, so a post the homeserver accepted late, or
// shows late, is not missed. On Dendrite under load that took 20–45 s,
// which is why only the few turns killed while ending ask: in the cluster
// simulation every cut turn asked, and its notice came 44 s after the kill.)
//
// What is left: a last post that went out before the agent's end came
// carries no mark (the end came while its request was at the homeserver,
// or after it returned). A holder stopped from then until the record's
// write, a request's trip and one write, leaves a complete reply that the
// next holder calls cut. A post still waiting to be sent when the end
// comes is marked (see markLastInFlight).

// cutCheckTimeout bounds the question to the homeserver; past it the user
// is told, as an unanswered question cannot show the reply ended. It is
// long because the answer follows the homeserver: a loaded one shows the
// probe tens of seconds after it took it (Dendrite with 200 rooms
// streaming, CI's machine: notices 87 s after a kill), and telling the
// user early can call a complete reply cut. Nothing else of the room waits
// on it but its own queue, which could not be answered sooner anyway.
const cutCheckTimeout = 3 * time.Minute

// cutCheckRetry is the first pause before asking again after a refused
// question (a homeserver busy or restarting); it doubles up to
// cutCheckRetryMax.
const (
	cutCheckRetry    = time.Second
	cutCheckRetryMax = 15 * time.Second
)

// recordEnding starts the write that records t as ending (once): its last
// post may go out when it landed (endingRecorded).
func (a *roomActor) recordEnding(c actor.Context, t *turn) {
	if t.endTicket != 0 {
		return
	}
	ending := actors.InFlightTurn{EventID: t.eventID, Text: t.msg.Text, StartedAt: t.started}
	if a.rec.TurnInFlight != nil {
		// A copy: the snapshot of a write in progress shares the pointer.
		ending = *a.rec.TurnInFlight
	}
	ending.Ending = true
	a.rec.TurnInFlight = &ending
	t.endTicket = a.save(c)
}

// endingRecorded notes that the write up to ticket covers t's ending
// record, and lets its last post go out marked: the one in flight, if it
// has not left yet, or the next.
func (a *roomActor) endingRecorded(c actor.Context, t *turn, ticket uint64) {
	if t.endTicket == 0 || t.endRecorded || ticket < t.endTicket {
		return
	}
	t.endRecorded = true
	if t.opInFlight {
		a.markLastInFlight(t)
	}
	a.pump(c)
}

// cutChecked is the homeserver's answer: whether the reply to the cut
// turn's message had ended.
type cutChecked struct {
	inc   uint64
	cut   *actors.InFlightTurn
	ended bool
	err   error
}

func (m *cutChecked) incarnation() uint64 { return m.inc }

// checkCut asks the homeserver whether the reply to cut had ended.
func (a *roomActor) checkCut(c actor.Context, cut *actors.InFlightTurn) {
	a.holdTurns++
	matrix, roomID, inc := a.deps.Matrix, a.roomID, a.inc
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		ctx, cancel := context.WithTimeout(ctx, cutCheckTimeout)
		defer cancel()
		ended, err := askReplyEnded(ctx, matrix, roomID, cut.EventID)
		return &cutChecked{inc: inc, cut: cut, ended: ended, err: err}
	})
}

// askReplyEnded asks until the homeserver answers or ctx ends: a refused
// question is no answer, and one refusal (a 502 while it restarts) must not
// call a complete reply cut. It returns the last refusal when ctx ends.
func askReplyEnded(ctx context.Context, matrix actors.MatrixSender, roomID, eventID string) (bool, error) {
	pause := cutCheckRetry
	for {
		ended, err := matrix.ReplyEnded(ctx, roomID, eventID)
		if err == nil || ctx.Err() != nil {
			return ended, err
		}
		zerolog.Ctx(ctx).Debug().Err(err).Str("room_id", roomID).Str("event_id", eventID).Dur("retry_in", pause).
			Msg("the homeserver did not say whether a cut turn's reply had ended; asking again")
		select {
		case <-ctx.Done():
			return false, err
		case <-time.After(pause):
		}
		pause = min(2*pause, cutCheckRetryMax)
	}
}

func (a *roomActor) cutCheckedDone(c actor.Context, m *cutChecked) {
	switch {
	case m.err != nil:
		a.log.Warn().Err(m.err).Str("event_id", m.cut.EventID).Msg("failed to ask the homeserver whether a cut turn's reply had ended; telling the user it was cut")
		a.tellCut(c, m.cut)
	case m.ended:
		a.log.Info().Str("event_id", m.cut.EventID).Msg("the turn in flight at the restart had posted its whole reply; no notice")
		a.rec.TurnInFlight = nil
		a.save(c)
	default:
		a.tellCut(c, m.cut)
	}
	a.releaseTurns(c)
}

// tellCut tells the user a restart (or a crash: a.crashed) cut off their
// turn, offers !retry when the message is known, and ends the turn in the
// record.
func (a *roomActor) tellCut(c actor.Context, cut *actors.InFlightTurn) {
	key := catalog.Restarted
	if a.crashed {
		key = catalog.TurnCrashed
	}
	text := a.deps.Catalog.T(key)
	if cut != nil {
		a.log.Warn().Str("event_id", cut.EventID).Bool("crashed", a.crashed).Msg("a restart cut off a turn, telling the user")
		if cut.Text != "" {
			a.rec.LastFailed = &actors.FailedTurn{EventID: cut.EventID, Text: cut.Text, FailedAt: time.Now()}
			text += "\n\n" + a.deps.Catalog.T(catalog.RetryHint)
		}
	}
	a.notice(c, text)
	a.rec.TurnInFlight = nil
	a.save(c)
}
