package user

import (
	"context"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/grain"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// In a cluster whose rooms are grains (actors.Deps.Placer), a user actor
// does not spawn its rooms: it asks the cluster where each room runs and
// sends it Delivers (package grain). It keeps what the rooms have not
// acked, so that a room whose member dies, or which moves, gets it again
// on the member it is placed on next.

// grainRoom is the user actor's side of one room grain.
type grainRoom struct {
	pid     *actor.PID
	placing bool
	// stopping is set once the user actor stopped the idle grain: its end
	// is expected, and needs no wake.
	stopping bool
	// waiting are the deliveries made while no PID is known, oldest first.
	waiting []delivery
	// unacked are the messages sent whose Ack waits for the room, by Seq.
	unacked map[uint64]any
	// sent counts the messages sent to the current activation (see
	// kit.ChildIdle).
	sent uint64
	// tries counts the failed placements in a row.
	tries int
}

type delivery struct {
	seq uint64
	msg any // nil: a wake
}

type (
	// grainPlaced is the cluster's answer to where a room runs.
	grainPlaced struct {
		inc    uint64
		roomID string
		pid    *actor.PID
		err    error
	}
	placeAgain struct {
		inc    uint64
		roomID string
	}
)

// roomAcks reports whether the room acks msg (the user actor acks the rest
// once decided, see handle).
func roomAcks(msg any) bool {
	switch msg.(type) {
	case *actors.StartTurn, *actors.StageFile, *actors.RunCommand:
		return actors.AckOf(msg) != nil
	}
	return false
}

// maxPlaceWait bounds the pause between two tries to place a room.
const maxPlaceWait = 5 * time.Second

func (a *userActor) grained() bool { return a.deps.Placer != nil }

func (a *userActor) grainOf(roomID string) *grainRoom {
	g, ok := a.grains[roomID]
	if !ok {
		g = &grainRoom{unacked: map[uint64]any{}}
		a.grains[roomID] = g
	}
	return g
}

// toGrain sends msg (nil: a wake) to the grain of room rec.
func (a *userActor) toGrain(c actor.Context, rec actors.RoomRecord, msg any) {
	g := a.grainOf(rec.RoomID)
	d := delivery{msg: msg}
	if roomAcks(msg) {
		a.seq++
		d.seq = a.seq
		g.unacked[d.seq] = msg
	}
	a.deliver(c, rec.RoomID, g, d)
}

func (a *userActor) deliver(c actor.Context, roomID string, g *grainRoom, d delivery) {
	if g.pid == nil || g.stopping {
		g.waiting = append(g.waiting, d)
		a.place(c, roomID, g)
		return
	}
	if d.msg != nil {
		g.sent++
	}
	c.Send(g.pid, grain.NewDeliver(c.Self(), a.rooms[roomID], d.seq, d.msg))
}

// place asks the cluster, in a task, where roomID runs (grainPlaced).
func (a *userActor) place(c actor.Context, roomID string, g *grainRoom) {
	if g.placing || g.stopping {
		return
	}
	g.placing = true
	placer, inc := a.deps.Placer, a.inc
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		pid, err := placer.PlaceRoom(ctx, roomID)
		return &grainPlaced{inc: inc, roomID: roomID, pid: pid, err: err}
	})
}

func (a *userActor) grainPlaced(c actor.Context, m *grainPlaced) {
	g, ok := a.grains[m.roomID]
	if !ok {
		return
	}
	g.placing = false
	if m.err != nil {
		g.tries++
		wait := min(time.Duration(g.tries)*200*time.Millisecond, maxPlaceWait)
		a.log.Warn().Err(m.err).Str("room_id", m.roomID).Int("tries", g.tries).Stringer("retry_in", wait).Msg("failed to place a room in the cluster")
		kit.SendLater(c, wait, &placeAgain{inc: a.inc, roomID: m.roomID})
		return
	}
	g.tries = 0
	g.pid, g.sent = m.pid, 0
	c.Watch(m.pid)
	waiting := g.waiting
	g.waiting = nil
	for _, d := range waiting {
		a.deliver(c, m.roomID, g, d)
	}
}

// grainReported handles what a room grain told its user actor.
func (a *userActor) grainReported(c actor.Context, m *grain.Reported) {
	switch {
	case m.Acked != 0:
		if g, ok := a.grains[m.RoomID]; ok {
			if msg, ok := g.unacked[m.Acked]; ok {
				delete(g.unacked, m.Acked)
				actors.AckOf(msg).Done()
			}
		}
	case m.Updated != nil:
		a.rooms[m.Updated.RoomID] = *m.Updated
	case m.Staged != nil:
		a.stagedEnded(m.Staged)
	case m.Idle != nil:
		g, ok := a.grains[m.RoomID]
		if !ok || g.pid == nil || g.stopping || g.sent != m.Idle.Received || len(g.unacked) > 0 || len(g.waiting) > 0 {
			return // something is on its way to it
		}
		g.stopping = true
		c.Stop(g.pid)
	}
}

// grainTerminated handles the end of a grain the user actor watched; it
// reports whether who was one. A grain stopped for idleness is forgotten,
// or placed again if messages came meanwhile. Any other end (its member
// died, the room moved, the room stopped itself) loses what the grain had
// not acked: the room is woken where it is placed now, and given those
// messages again, oldest first.
func (a *userActor) grainTerminated(c actor.Context, who *actor.PID) bool {
	for roomID, g := range a.grains {
		if g.pid == nil || !g.pid.Equal(who) {
			continue
		}
		g.pid, g.sent = nil, 0
		if g.stopping {
			g.stopping = false
			if len(g.waiting) == 0 && len(g.unacked) == 0 {
				delete(a.grains, roomID)
				return true
			}
		} else {
			a.log.Info().Str("room_id", roomID).Int("unacked", len(g.unacked)).Msg("room grain ended; waking the room where it is placed now")
			seqs := make([]uint64, 0, len(g.unacked))
			for seq := range g.unacked {
				seqs = append(seqs, seq)
			}
			slices.Sort(seqs)
			again := []delivery{{}} // the wake first: it reports a cut turn
			for _, seq := range seqs {
				again = append(again, delivery{seq: seq, msg: g.unacked[seq]})
			}
			g.waiting = append(again, g.waiting...)
		}
		a.place(c, roomID, g)
		return true
	}
	return false
}

// adoptGrains takes over a crashed incarnation's grains: the same PID
// receives their acks, and the new incarnation watches them again.
func (a *userActor) adoptGrains(c actor.Context, grains map[string]*grainRoom, seq uint64) {
	a.seq = max(a.seq, seq)
	for roomID, g := range grains {
		a.grains[roomID] = g
		g.placing = false
		if g.pid != nil {
			c.Watch(g.pid)
		} else if len(g.waiting) > 0 {
			a.place(c, roomID, g)
		}
	}
}
