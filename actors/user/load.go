package user

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
	"github.com/surfaces-bot/surfaces/actors/room"
)

// A user actor that cannot read its record cannot tell which rooms are the
// user's. It does not crash (a restart reads again at once, and a store
// that is down would have the supervisor give up after ten restarts, until
// the next message): it keeps the user's events (their acks held, so a
// restart of the bot has them delivered again) and reads again after a
// backoff, 1 s doubling up to 30 s. The user is told once per run of
// failures, in the room they wrote in.

// retryUserLoad is the user actor's timer for reading its record again.
type retryUserLoad struct{ inc uint64 }

// loadFailed schedules the next read of the record, telling the user on
// the first failure in a row.
func (a *userActor) loadFailed(c actor.Context, err error) {
	a.loadFailures++
	a.log.Error().Err(err).Int("attempt", a.loadFailures).Msg("failed to load the user's record, will try again")
	a.tellLoadFailure(c)
	backoff := min(room.FirstWriteRetry<<min(a.loadFailures-1, 5), room.MaxWriteRetry)
	a.retryLoad = kit.SendLater(c, backoff, &retryUserLoad{inc: a.inc})
}

// tellLoadFailure tells the user, once per run of failed reads, that what
// they sent waits: in the room of the first message held.
func (a *userActor) tellLoadFailure(c actor.Context) {
	if a.loadFailures == 0 || a.toldLoadFailure {
		return
	}
	for _, m := range a.pending {
		if msg, ok := m.(*actors.MessageReceived); ok {
			a.toldLoadFailure = true
			a.notice(c, msg.RoomID, a.deps.Catalog.T(catalog.StoreFailing))
			return
		}
	}
}

func (a *userActor) stopRetryLoad() {
	if a.retryLoad != nil {
		a.retryLoad.Stop()
		a.retryLoad = nil
	}
}
