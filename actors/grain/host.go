package grain

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
	"github.com/surfaces-bot/surfaces/actors/room"
)

// Kind is the cluster kind of room grains.
const Kind = "room"

// ErrNotPlaced: the cluster gave no actor for a room (no member holds its
// kind, or the owner did not answer in time).
var ErrNotPlaced = errors.New("the cluster placed no actor for the room")

// NewKind returns the kind of room grains this member hosts. deps and opts
// are the member's own (its Matrix client, agents, store); ctx carries the
// logger, and its cancellation is not inherited (see root.NewProps).
func NewKind(ctx context.Context, deps actors.Deps, opts actors.Options) (*cluster.Kind, error) {
	if err := deps.Validate(); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults()
	d := kit.PrepareTree(deps, &opts)
	base := context.WithoutCancel(ctx)
	props := actor.PropsFromProducer(func() actor.Actor {
		return &host{deps: d, opts: &opts, base: base}
	}, actor.WithSupervisor(restartAlone()), actor.WithReceiverMiddleware(handOverOnPoison))
	return cluster.NewKind(Kind, props), nil
}

// host is a room's grain: the room actor's parent on this member.
type host struct {
	deps *kit.Deps
	opts *actors.Options
	base context.Context

	roomID string
	owner  *actor.PID
	room   *actor.PID
	log    zerolog.Logger
	// handingOver is set once the cluster asked the grain to stop (its
	// room moves to another member): the room finishes its turn first.
	handingOver bool
}

// handoverOver ends a hand-over that took longer than its grace.
type handoverOver struct{}

// handOverOnPoison turns the cluster's poison pill, which it sends a grain
// whose room is placed on another member now (disthash's placement actor,
// on a topology change) or on its way out, into a hand-over: the room
// finishes its running turn within Options.HandoverGrace, then stops, and
// so does the grain. Without it the pill would stop the room at once and
// cut the turn.
func handOverOnPoison(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
		if _, ok := env.Message.(*actor.PoisonPill); ok {
			if h, ok := c.Actor().(*host); ok {
				if ctx, ok := c.(actor.Context); ok {
					h.poisoned(ctx)
					return
				}
			}
		}
		next(c, env)
	}
}

// Receive implements actor.Actor.
func (h *host) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		h.log = *zerolog.Ctx(h.base)
	case *Deliver:
		h.deliver(c, m)
	case *actors.RoomUpdated:
		h.report(c, &Reported{Updated: &m.Record})
	case *kit.StagingEnded:
		h.report(c, &Reported{Staged: m})
	case *kit.ChildIdle:
		h.report(c, &Reported{Idle: m})
	case *handoverOver:
		if h.room != nil {
			h.log.Warn().Stringer("grace", h.opts.HandoverGrace).Msg("the room did not hand over within its grace; stopping it")
			c.Stop(h.room)
		}
	case *actor.Terminated:
		if h.owner != nil && m.Who.Equal(h.owner) {
			h.owner = nil
			return
		}
		if h.room != nil && m.Who.Equal(h.room) {
			// The room stopped on its own (fenced by a newer activation,
			// or archived): the grain has nothing left to host.
			h.room = nil
			c.Stop(c.Self())
		}
	}
}

// poisoned hands the room over (see handOverOnPoison).
func (h *host) poisoned(c actor.Context) {
	if h.room == nil {
		c.Stop(c.Self())
		return
	}
	if h.handingOver {
		return
	}
	h.handingOver = true
	c.Send(h.room, &kit.Handover{})
	kit.SendLater(c, h.opts.HandoverGrace, &handoverOver{})
}

func (h *host) deliver(c actor.Context, m *Deliver) {
	if m.Owner != nil && !m.Owner.Equal(h.owner) {
		// A user actor started again (on the member that took the
		// ingress over) owns the room from now on. It is watched: a grain
		// whose owner is gone stops once idle (report).
		h.owner = m.Owner
		c.Watch(m.Owner)
	}
	if h.room == nil {
		h.roomID = m.Record.RoomID
		if h.roomID == "" {
			h.log.Error().Msg("room grain delivered a message without a room id; ignoring it")
			return
		}
		h.log = zerolog.Ctx(h.base).With().Str("room_id", h.roomID).Logger()
		pid, err := c.SpawnNamed(room.NewPropsWith(h.log.WithContext(h.base), h.deps, h.opts, m.Record), "room")
		if err != nil {
			h.log.Error().Err(err).Msg("failed to start the room actor in its grain")
			return
		}
		h.room = pid
	}
	var ack *actors.Ack
	if m.Seq != 0 {
		ack = h.ack(c, m.Seq)
	}
	if msg := m.Message(ack); msg != nil {
		c.Send(h.room, msg)
	}
}

// ack returns the Ack of the message numbered seq: it tells the owner at
// the time of delivery, from whatever goroutine the room calls it.
func (h *host) ack(c actor.Context, seq uint64) *actors.Ack {
	root, owner, roomID := c.ActorSystem().Root, h.owner, h.roomID
	return actors.NewAck(func() {
		if owner != nil {
			root.Send(owner, &Reported{RoomID: roomID, Acked: seq})
		}
	})
}

func (h *host) report(c actor.Context, r *Reported) {
	if h.owner == nil {
		if r.Idle != nil {
			// Nobody will ask it to stop: its user actor died with the
			// member that held the ingress.
			c.Stop(c.Self())
		}
		return
	}
	r.RoomID = h.roomID
	c.Send(h.owner, r)
}

// restartAlone restarts a crashed room actor in its grain, as a user actor
// does its children.
func restartAlone() actor.SupervisorStrategy {
	return actor.NewOneForOneStrategy(10, time.Minute, func(any) actor.Directive {
		return actor.RestartDirective
	})
}

// Placer places rooms on a protoactor-go cluster whose members host Kind
// (actors.RoomPlacer). Make it with NewPlacer.
type Placer struct {
	cluster *cluster.Cluster
	sub     *eventstream.Subscription

	mu sync.Mutex
	// gone are the members' addresses whose connection ended (remote's
	// EndpointTerminatedEvent) and that the topology still lists: a room
	// they own waits for the topology rather than for a lookup sent to a
	// dead member to time out (5 s with disthash).
	gone map[string]bool
}

var _ actors.RoomPlacer = (*Placer)(nil)

// ErrOwnerGone: the member a room is placed on lost its connection and the
// cluster's topology does not say so yet; try again shortly.
var ErrOwnerGone = errors.New("the member the room is placed on is gone")

// NewPlacer returns the placer of rooms on c; Close stops it following
// c's events.
func NewPlacer(c *cluster.Cluster) *Placer {
	p := &Placer{cluster: c, gone: map[string]bool{}}
	p.sub = c.ActorSystem.EventStream.Subscribe(func(evt any) {
		switch e := evt.(type) {
		case *remote.EndpointTerminatedEvent:
			p.mu.Lock()
			p.gone[e.Address] = true
			p.mu.Unlock()
		case *cluster.ClusterTopology:
			// A member that left owns nothing now; one that joined at an
			// address once gone is a new process there.
			p.mu.Lock()
			for _, m := range append(e.Left, e.Joined...) {
				delete(p.gone, m.Address())
			}
			p.mu.Unlock()
		}
	})
	return p
}

// Close stops following the cluster's events.
func (p *Placer) Close() { p.cluster.ActorSystem.EventStream.Unsubscribe(p.sub) }

// PlaceRoom implements actors.RoomPlacer. protoactor's lookup bounds its
// own wait (5 s with disthash); ctx only stops a call not begun.
func (p *Placer) PlaceRoom(ctx context.Context, roomID string) (*actor.PID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if owner := p.Owner(roomID); owner != "" && p.isGone(owner) {
		return nil, fmt.Errorf("failed to place room %s on %s: %w", roomID, owner, ErrOwnerGone)
	}
	pid := p.cluster.Get(roomID, Kind)
	if pid == nil {
		return nil, fmt.Errorf("failed to place room %s: %w", roomID, ErrNotPlaced)
	}
	return pid, nil
}

// Owner is the address of the member roomID is placed on by the current
// topology, as disthash computes it; "" with no member.
func (p *Placer) Owner(roomID string) string {
	rdv := cluster.NewRendezvous()
	rdv.UpdateMembers(p.cluster.MemberList.Members().Members())
	return rdv.GetByClusterIdentity(cluster.NewClusterIdentity(roomID, Kind))
}

func (p *Placer) isGone(address string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gone[address]
}
