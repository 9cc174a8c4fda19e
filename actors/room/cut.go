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
// record write a turn, on the way to the final text only) and names that
// post when it is an edit (InFlightTurn.LastEdit), as it is for every reply
// shorter than NotifyAfter without files but one posted whole (an answer
// the agent sent at once, see takeQueued). A room that starts with such a
// turn makes the edit again, marked: an edit doubles nothing, so the reply
// is whole whether or not the first one landed, and the user is told
// nothing. The write waits for the last post to be known (the posts before
// it returned), so a holder stopped before it has posted no last post and
// its user is told at once.
//
// A last post that is a new message (the answer of a longer turn, a reply
// posted whole at its end) cannot be made again: it would double the reply
// if the first one landed. A room that starts with such a turn asks the
// homeserver for the mark that post carries (actors.ReplyEnd) before it
// speaks, and holds its queue meanwhile so the notice, when there is one,
// comes before the next reply. (The Matrix side makes the answer sure: it
// writes a probe into the room and reads until the probe shows, so a post
// the homeserver accepted late, or shows late, is not missed. On Dendrite
// under load that took 20–45 s; in the 200-room cluster simulation the
// notices came p95 41–43 s after the kill while every ending turn asked,
// 3.9 s once those ending with an edit made it again instead.)
//
// What is left: a last post that went out before the agent's end came
// carries no mark (the end came while its request was at the homeserver,
// or after it returned). A holder stopped from then until the record's
// write, a request's trip and one write, leaves a complete reply that the
// next holder calls cut. A post still waiting to be sent when the end
// comes is marked (see lastInFlight).

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

// recordEnding starts the write that records t as ending with op as its
// last post, unless one for op is on its way: op may go out, or carry its
// mark, when it landed (endingRecorded).
func (a *roomActor) recordEnding(c actor.Context, t *turn, op replyOp) {
	if t.endTicket != 0 && sameOp(t.endPost, op) {
		return
	}
	ending := actors.InFlightTurn{EventID: t.eventID, Text: t.msg.Text, StartedAt: t.started}
	if a.rec.TurnInFlight != nil {
		// A copy: the snapshot of a write in progress shares the pointer.
		ending = *a.rec.TurnInFlight
	}
	ending.Ending, ending.LastEdit = true, lastEdit(op)
	a.rec.TurnInFlight = &ending
	t.endPost, t.endRecorded = op, false
	t.endTicket = a.save(c)
}

// lastEdit is what the record keeps of a last post: the edit, or nil for a
// new message or a file, which cannot be made again.
func lastEdit(op replyOp) *actors.ReplyEdit {
	if !op.edit || op.file != "" || op.eventID == "" {
		return nil
	}
	return &actors.ReplyEdit{EventID: op.eventID, Text: op.text}
}

// sameOp reports whether two operations post the same thing.
func sameOp(x, y replyOp) bool {
	return x.part == y.part && x.edit == y.edit && x.eventID == y.eventID && x.text == y.text && x.file == y.file
}

// endingRecordedAs reports whether the record says t is ending with op as
// its last post.
func (a *roomActor) endingRecordedAs(t *turn, op replyOp) bool {
	return t.endRecorded && sameOp(t.endPost, op)
}

// endingRecorded notes that the write up to ticket covers t's ending
// record, and lets its last post go out marked: the one in flight, if it
// has not left yet, or the next.
func (a *roomActor) endingRecorded(c actor.Context, t *turn, ticket uint64) {
	if t.endTicket == 0 || t.endRecorded || ticket < t.endTicket {
		return
	}
	t.endRecorded = true
	if t.opInFlight && sameOp(t.inFlight, t.endPost) && t.inFlight.end != nil {
		t.inFlight.end.Set(t.eventID)
	}
	a.pump(c)
}

// cutChecked is the homeserver's answer: whether the reply to the cut
// turn's message had ended.
type cutChecked struct {
	inc   uint64
	cut   *actors.InFlightTurn
	ended bool
	// again: the reply ended because its last edit was made again.
	again bool
	err   error
}

func (m *cutChecked) incarnation() uint64 { return m.inc }

// checkCut ends the reply to cut, an ending turn: it makes its last edit
// again, or, for a last post that cannot be made again (or an edit the
// homeserver refused), asks the homeserver whether the reply had ended.
func (a *roomActor) checkCut(c actor.Context, cut *actors.InFlightTurn) {
	a.holdTurns++
	matrix, roomID, inc, log := a.deps.Matrix, a.roomID, a.inc, a.log
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		ctx, cancel := context.WithTimeout(ctx, cutCheckTimeout)
		defer cancel()
		if edit := cut.LastEdit; edit != nil {
			err := matrix.EditText(actors.EndingReply(ctx, cut.EventID), roomID, edit.EventID, edit.Text)
			if err == nil {
				return &cutChecked{inc: inc, cut: cut, ended: true, again: true}
			}
			log.Warn().Err(err).Str("event_id", cut.EventID).Msg("failed to make a cut turn's last edit again; asking the homeserver whether it had landed")
		} else {
			log.Info().Str("event_id", cut.EventID).Msg("the turn in flight at the restart was ending with a new message; asking the homeserver whether it landed")
		}
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
	case m.again:
		a.log.Info().Str("event_id", m.cut.EventID).Msg("made the last edit of the turn in flight at the restart again; its reply is whole, no notice")
		a.rec.TurnInFlight = nil
		a.save(c)
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
