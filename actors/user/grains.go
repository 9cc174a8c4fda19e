package user

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/grain"
)

// In a cluster whose rooms are grains (actors.Deps.Placer), a user actor
// does not spawn its rooms: it asks the cluster where each room runs and
// sends it Delivers (package grain). Its grain.Links keep what the rooms
// have not acked, so that a room whose member dies, or which moves, gets
// it again on the member it is placed on next.

// roomAcks reports whether the room acks msg (the user actor acks the rest
// once decided, see handle).
func roomAcks(msg any) bool {
	switch msg.(type) {
	case *actors.StartTurn, *actors.StageFile, *actors.RunCommand:
		return actors.AckOf(msg) != nil
	}
	return false
}

func (a *userActor) grained() bool { return a.deps.Placer != nil }

// newRoomLinks returns this incarnation's links to its rooms' grains.
func (a *userActor) newRoomLinks() *grain.Links {
	return grain.NewLinks(grain.LinksOptions{
		Kind:   actors.RoomKind,
		Placer: a.deps.Placer,
		Ctx:    a.ctx,
		Log:    a.log,
		Inc:    a.inc,
		Wrap: func(self *actor.PID, roomID string, seq uint64, msg any) *grain.Deliver {
			rec, ok := a.rooms[roomID]
			if !ok {
				// Not loaded yet (a crashed incarnation's links, adopted
				// before the record loads): the room reads its own.
				rec = actors.RoomRecord{RoomID: roomID}
			}
			return grain.NewDeliver(self, rec, seq, msg)
		},
		Acked: roomAcks,
	})
}

// grainReported handles what a room grain told its user actor.
func (a *userActor) grainReported(c actor.Context, m *grain.Reported) {
	m = a.grains.Reported(c, m)
	switch {
	case m == nil:
	case m.Updated != nil:
		a.rooms[m.Updated.RoomID] = *m.Updated
	case m.Staged != nil:
		a.stagedEnded(m.Staged)
	}
}

// wakeUnfinishedRooms wakes, in a cluster, the rooms whose record says a
// turn runs or messages wait. A user actor starts again in a cluster when
// its grain was lost (its member died, or it moved): its rooms' grains, on
// the same member or on others, may have been cut or left without an
// owner. A wake starts a room that is not running, which then tells its
// user of a turn cut and runs its queue, and tells one that is running
// that this actor owns it now; a room that finished in the meantime stops
// again, idle.
func (a *userActor) wakeUnfinishedRooms(c actor.Context) {
	if !a.grained() {
		return
	}
	for id, rec := range a.rooms {
		if !rec.Archived && (rec.TurnInFlight != nil || len(rec.Queue) > 0) {
			a.grains.Send(c, id, nil)
		}
	}
}
