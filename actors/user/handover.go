package user

import (
	"github.com/asynkron/protoactor-go/actor"
)

// A user's grain that moves to another member (one joined the cluster)
// asks its actor to hand over (kit.Handover). The actor hands its rooms'
// grains over too (grain.Links.Close): each finishes its turn and stops,
// its queue kept in its record, so that the user's next activation, which
// wakes the rooms with a queue (wakeUnfinishedRooms), never meets a room
// still running on its old member (the cluster would activate it twice).
// The actor stops once they all ended and no onboarding or !new runs, so
// that no Space or chat is made twice. It handles no event meanwhile: what
// it was given and did not finish stays unacked with the root, which sends
// it again to the next activation; the rooms' Taken lists drop what they
// already took.

// handover starts a hand-over.
func (a *userActor) handover(c actor.Context) {
	if !a.handingOver {
		a.log.Info().Bool("onboarding", a.onboarding).Int("rooms", a.grains.Len()).Msg("the user's grain moves; handing over")
		a.handingOver = true
		a.grains.Close(c)
	}
	a.tryHandover(c)
}

// tryHandover stops the actor once it is handing over, no onboarding runs
// and its rooms' grains ended.
func (a *userActor) tryHandover(c actor.Context) {
	if a.handingOver && !a.onboarding && a.grains.Len() == 0 {
		c.Stop(c.Self())
	}
}
