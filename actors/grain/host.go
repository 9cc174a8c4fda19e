package grain

import (
	"context"
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
	"github.com/surfaces-bot/surfaces/actors/room"
)

// Kind is the cluster kind of room grains.
const Kind = actors.RoomKind

// ErrNotPlaced: the cluster gave no actor for a grain (no member holds its
// kind, or the owner did not answer in time).
var ErrNotPlaced = errors.New("the cluster placed no actor")

// NewKind returns the kind of room grains this member hosts. deps and opts
// are the member's own (its Matrix client, agents, store); ctx carries the
// logger, and its cancellation is not inherited (see root.NewProps).
func NewKind(ctx context.Context, deps actors.Deps, opts actors.Options) (*cluster.Kind, error) {
	if err := deps.Validate(); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults()
	return NewHostKind(ctx, kit.PrepareTree(deps, &opts), &opts, RoomChild()), nil
}

// Child says how a kind of grain makes the actor it hosts.
type Child struct {
	// Kind is the cluster kind (actors.RoomKind, actors.UserKind).
	Kind string
	// LogKey is the log field the grain's identity goes in.
	LogKey string
	// ID is the identity a Deliver is for ("" refuses it).
	ID func(d *Deliver) string
	// Grace is how long the actor may take to hand over (nil:
	// Options.HandoverGrace).
	Grace func(opts *actors.Options) time.Duration
	// Props makes the actor of the first Deliver; base carries the logger
	// (the actor adds its identity).
	Props func(base context.Context, deps *kit.Deps, opts *actors.Options, d *Deliver) *actor.Props
}

// RoomChild hosts a room actor of package room.
func RoomChild() Child {
	return Child{
		Kind:   actors.RoomKind,
		LogKey: "room_id",
		ID:     func(d *Deliver) string { return d.Record.RoomID },
		Props: func(base context.Context, deps *kit.Deps, opts *actors.Options, d *Deliver) *actor.Props {
			return room.NewPropsWith(base, deps, opts, d.Record)
		},
	}
}

// NewHostKind returns the kind whose grains host child's actors, with deps
// and opts already prepared (kit.PrepareTree) and defaulted.
func NewHostKind(ctx context.Context, deps *kit.Deps, opts *actors.Options, child Child) *cluster.Kind {
	base := context.WithoutCancel(ctx)
	props := actor.PropsFromProducer(func() actor.Actor {
		return &host{deps: deps, opts: opts, base: base, child: child}
	}, actor.WithSupervisor(restartAlone()), actor.WithReceiverMiddleware(handOverOnPoison))
	return cluster.NewKind(child.Kind, props)
}

// host is a grain: the parent on this member of the actor it hosts (a
// room's, a user's).
type host struct {
	deps  *kit.Deps
	opts  *actors.Options
	base  context.Context
	child Child

	id    string
	owner *actor.PID
	// actor is the hosted actor, once the first Deliver started it.
	actor *actor.PID
	log   zerolog.Logger
	// handingOver is set once the cluster asked the grain to stop (it
	// moves to another member): its actor finishes its work first.
	handingOver bool
	// forwarded counts the messages given to the actor; offset is the
	// count when the current owner took over, whose own count of what
	// it sent starts at 0 (see report).
	forwarded, offset uint64
	// emptyCheck is the timer of the check for a grain never given its
	// actor (emptyHostWait), stopped once it has one.
	emptyCheck *time.Timer
}

// handoverOver ends a hand-over that took longer than its grace.
type handoverOver struct{}

// emptyCheck asks a grain whether it ever got its actor (emptyHostWait).
type emptyCheck struct{}

// emptyHostWait is how long a grain may go without an actor. Its first
// Deliver follows its placement at once, unless the owner that placed it
// let it go meanwhile (Links.Close drops a grain still being placed, the
// owner moving away); nothing would ever stop such a grain.
var emptyHostWait = time.Minute

// handOverOnPoison turns the cluster's poison pill, which it sends a grain
// placed on another member now (disthash's placement actor, on a topology
// change) or on its way out, into a hand-over: a room finishes its running
// turn, a user its onboarding, within Options.HandoverGrace, then stops,
// and so does the grain. Without it the pill would stop the actor at once
// and cut the turn.
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
		h.emptyCheck = kit.SendLater(c, emptyHostWait, &emptyCheck{})
	case *emptyCheck:
		if h.actor == nil {
			h.log.Debug().Str("kind", h.child.Kind).Msg("a grain placed but never given a message stops")
			c.Stop(c.Self())
		}
	case *Deliver:
		h.deliver(c, m)
	case *actors.RoomUpdated:
		h.report(c, &Reported{Updated: &m.Record})
	case *kit.StagingEnded:
		h.report(c, &Reported{Staged: m})
	case *kit.ChildIdle:
		h.report(c, &Reported{Idle: m})
	case *handoverOver:
		if h.actor != nil {
			h.log.Warn().Stringer("grace", h.grace()).Msg("the grain's actor did not hand over within its grace; stopping it")
			c.Stop(h.actor)
		}
	case *actor.Terminated:
		if h.owner != nil && m.Who.Equal(h.owner) {
			h.owner = nil
			return
		}
		if h.actor != nil && m.Who.Equal(h.actor) {
			// The actor stopped on its own (a room fenced by a newer
			// activation, or archived; a hand-over done): the grain has
			// nothing left to host.
			h.actor = nil
			c.Stop(c.Self())
		}
	}
}

// poisoned hands the actor over (see handOverOnPoison).
func (h *host) poisoned(c actor.Context) {
	if h.actor == nil {
		c.Stop(c.Self())
		return
	}
	if h.handingOver {
		return
	}
	h.handingOver = true
	c.Send(h.actor, &kit.Handover{})
	kit.SendLater(c, h.grace(), &handoverOver{})
}

func (h *host) deliver(c actor.Context, m *Deliver) {
	if m.Owner != nil && !m.Owner.Equal(h.owner) {
		// A user actor started again (on the member that took the
		// ingress over) owns the room from now on. It is watched: a grain
		// whose owner is gone stops once idle (report).
		h.owner = m.Owner
		h.offset = h.forwarded
		c.Watch(m.Owner)
	}
	if m.Handover {
		h.poisoned(c)
		return
	}
	if h.actor == nil {
		h.id = h.child.ID(m)
		if h.id == "" {
			h.log.Error().Str("kind", h.child.Kind).Msg("grain delivered a message without an identity; ignoring it")
			return
		}
		h.log = zerolog.Ctx(h.base).With().Str(h.child.LogKey, h.id).Logger()
		pid, err := c.SpawnNamed(h.child.Props(h.base, h.deps, h.opts, m), h.child.Kind)
		if err != nil {
			h.log.Error().Err(err).Msg("failed to start the grain's actor")
			return
		}
		h.actor = pid
		if h.emptyCheck != nil {
			h.emptyCheck.Stop()
		}
	}
	var ack *actors.Ack
	if m.Seq != 0 {
		ack = h.ack(c, m.Seq)
	}
	if msg := m.Message(ack); msg != nil {
		h.forwarded++
		c.Send(h.actor, msg)
	}
}

// ack returns the Ack of the message numbered seq: it tells the owner at
// the time of delivery, from whatever goroutine the room calls it.
func (h *host) ack(c actor.Context, seq uint64) *actors.Ack {
	root, owner, id := c.ActorSystem().Root, h.owner, h.id
	return actors.NewAck(func() {
		if owner != nil {
			root.Send(owner, &Reported{ID: id, Acked: seq})
		}
	})
}

func (h *host) report(c actor.Context, r *Reported) {
	if h.owner == nil {
		if r.Idle != nil {
			// Nobody will ask it to stop: its owner died with its
			// member.
			c.Stop(c.Self())
		}
		return
	}
	if r.Idle != nil {
		// The actor counts all it received; the owner what it sent since
		// it took over.
		if r.Idle.Received < h.offset {
			return // the old owner's messages are still on their way
		}
		idle := *r.Idle
		idle.Received -= h.offset
		r.Idle = &idle
	}
	r.ID, r.From = h.id, Activation(c.Self())
	c.Send(h.owner, r)
}

func (h *host) grace() time.Duration {
	if h.child.Grace != nil {
		return h.child.Grace(h.opts)
	}
	return h.opts.HandoverGrace
}

// restartAlone restarts a crashed actor in its grain, as a user actor does
// its children.
func restartAlone() actor.SupervisorStrategy {
	return actor.NewOneForOneStrategy(10, time.Minute, func(any) actor.Directive {
		return actor.RestartDirective
	})
}
