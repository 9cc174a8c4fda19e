package room

import (
	"github.com/asynkron/protoactor-go/actor"
)

// A room whose grain moves to another member (package grain) is handed
// over rather than cut: it finishes the turn it runs, starts no other (the
// queue stays in its record), and stops once nothing is in flight. The
// grain ends then, and the user actor wakes the room on the member it is
// placed on now. A grain that does not hand over within its grace is
// stopped, and its turn cut as a stop cuts one (stopped).

// handover starts handing the room over.
func (a *roomActor) handover(c actor.Context) {
	if !a.handingOver {
		a.log.Info().Bool("turn_running", a.turn != nil).Int("queued", len(a.queue)).Msg("handing the room over to another member")
	}
	a.handingOver = true
	a.tryHandover(c)
}

// tryHandover stops the actor once it is handing over and nothing runs:
// no turn, no command whose effect is not durable yet, no conversation
// being rebound, and the newest record write landed. That write would
// land after a stop too (save does not bind it to the actor's life), but
// the next activation, taking a new epoch, could come first and have it
// refused: the turn's end and its usage would be lost, and the turn taken
// for cut.
func (a *roomActor) tryHandover(c actor.Context) {
	if !a.handingOver || a.turn != nil || a.holdTurns > 0 || len(a.commands) > 0 || a.running != nil || a.landed < a.saving {
		return
	}
	c.Stop(c.Self())
}
