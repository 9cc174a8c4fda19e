package root

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/grain"
	"github.com/surfaces-bot/surfaces/actors/room"
)

// In a cluster (actors.Deps.Placer set), the users' actors are grains of
// kind actors.UserKind, placed on the members by their user id, and the
// root sends them Delivers (package grain) instead of spawning them. Every
// event a user actor is given waits for its Ack, which comes back as a
// Reported{Acked}; until then the root keeps it, and a user grain that
// ends without being asked (its member died, or it moved) gets it again
// where it is placed next. So the sync position never passes an event
// that a member's death lost.

// rootCrashed is what the root's crashed incarnation hands its next
// (kit.Carry): the user grains' links.
type rootCrashed struct{ grains *grain.Links }

// newUserLinks returns the root's links to the users' grains.
func (a *rootActor) newUserLinks() *grain.Links {
	return grain.NewLinks(grain.LinksOptions{
		Kind:   actors.UserKind,
		Placer: a.deps.Placer,
		Ctx:    a.ctx,
		Log:    a.log,
		Inc:    room.Incarnations.Add(1),
		Wrap: func(self *actor.PID, userID string, seq uint64, msg any) *grain.Deliver {
			return grain.NewUserDeliver(self, userID, seq, msg)
		},
		Acked: func(msg any) bool { return actors.AckOf(msg) != nil },
	})
}
