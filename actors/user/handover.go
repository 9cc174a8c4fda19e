package user

import (
	"github.com/asynkron/protoactor-go/actor"
)

// A user's grain that moves to another member (one joined the cluster)
// asks its actor to hand over (kit.Handover): the actor stops once no
// onboarding or !new runs, so that no Space or chat is made twice. What it
// was given and did not finish stays unacked with the root, which sends it
// again to the user's next activation; the rooms' Taken lists drop what
// they already took.

// handover starts a hand-over.
func (a *userActor) handover(c actor.Context) {
	if !a.handingOver {
		a.log.Info().Bool("onboarding", a.onboarding).Msg("the user's grain moves; handing over")
		a.handingOver = true
	}
	a.tryHandover(c)
}

// tryHandover stops the actor once it is handing over and no onboarding
// runs.
func (a *userActor) tryHandover(c actor.Context) {
	if a.handingOver && !a.onboarding {
		c.Stop(c.Self())
	}
}
