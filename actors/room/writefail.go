package room

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// A record write that fails leaves the room's change in memory only. The
// events it held are not acked, so the sync position stays before them and
// a restart has the homeserver deliver them again; a running turn does not
// go to the agent until its TurnInFlight is written (see turnRecorded). The
// room writes its whole record again after a backoff, until a write lands:
// a newer snapshot covers every change before it. The user is told once per
// run of failures, and the operator sees RecordWriteFailed (a metric, and
// /readyz failing while any room cannot write).

// retrySave is the room's timer for writing its record again.
type retrySave struct{ inc uint64 }

// Bounds of the backoff between attempts to write a record again.
const (
	FirstWriteRetry = time.Second
	MaxWriteRetry   = 30 * time.Second
)

// writeFailed keeps the failed write's acks for the next write, tells the
// user on the first failure in a row, and schedules the next attempt.
func (a *roomActor) writeFailed(c actor.Context, m *roomSaved) {
	a.acks = append(m.acks, a.acks...)
	a.failedWrites++
	a.log.Error().Err(m.err).Int("attempt", a.failedWrites).Msg("failed to save room record, will try again")
	c.ActorSystem().EventStream.Publish(&actors.RecordWriteFailed{RoomID: a.roomID, Attempt: a.failedWrites, Err: m.err})
	if a.failedWrites == 1 {
		a.notice(c, a.deps.Catalog.T(catalog.StoreFailing))
	}
	if a.retryWrite != nil {
		return // one attempt is already scheduled; it writes everything
	}
	backoff := FirstWriteRetry << min(a.failedWrites-1, 5)
	a.retryWrite = kit.SendLater(c, min(backoff, MaxWriteRetry), &retrySave{inc: a.inc})
}

// fenced stops an activation that a newer one replaced (its record write
// was refused with ErrStaleEpoch: the room actor started again, on this
// process or another member of a cluster, issue 24). Two activations must
// never both answer: this one cuts its turn and drops its queue without a
// word to Matrix or the agent, and stops. What it held is the newer
// activation's: its events stay unacked, so they are delivered again
// rather than lost, and the newer one's record has the turn in flight.
func (a *roomActor) fenced(c actor.Context, err error) {
	a.log.Warn().Err(err).Uint64("epoch", a.rec.Epoch).Bool("turn", a.turn != nil).
		Msg("another activation took this room; this one stops without sending")
	c.ActorSystem().EventStream.Publish(&actors.RoomFenced{RoomID: a.roomID, Epoch: a.rec.Epoch})
	if t := a.turn; t != nil {
		// Observers must not wait for a turn this activation will not end.
		c.ActorSystem().EventStream.Publish(&actors.TurnEnded{RoomID: a.roomID, EventID: t.eventID, AgentID: t.agentID,
			Err: actors.ErrStaleEpoch, Chunks: t.chunks, Duration: time.Since(t.started), FirstChunk: t.firstChunk()})
	}
	a.stop(actors.ErrStaleEpoch) // the agent's connection and every timer
	a.turn, a.queue, a.pending, a.acks = nil, nil, nil, nil
	a.fencedOut = true
	c.Stop(c.Self())
}

// writeLanded ends a run of failed writes.
func (a *roomActor) writeLanded(c actor.Context) {
	if a.failedWrites == 0 {
		return
	}
	a.log.Info().Int("failures", a.failedWrites).Msg("room record written again")
	c.ActorSystem().EventStream.Publish(&actors.RecordWritesRecovered{RoomID: a.roomID, Failures: a.failedWrites})
	a.failedWrites = 0
}
