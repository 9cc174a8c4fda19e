package root

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/grain"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
	"github.com/surfaces-bot/surfaces/actors/reconcile"
	"github.com/surfaces-bot/surfaces/actors/user"
)

// rootActor routes Matrix events to one user actor per sender and applies
// the invite policy (PRODUCT R6.1) before any per-user state exists.
type rootActor struct {
	deps  *kit.Deps
	opts  *actors.Options
	base  context.Context
	ctx   context.Context
	stop  context.CancelCauseFunc
	log   zerolog.Logger
	users kit.Children
	// grains are the users' actors placed by a cluster, when deps.Placer
	// is set (grains.go); users then holds none.
	grains *grain.Links
	// known are the users with a record (loaded at start) or an actor;
	// loaded is set once known is filled, and pending holds what arrived
	// before.
	known   map[string]bool
	loaded  bool
	pending []any
	// checking holds the events of senders whose record is being read.
	checking map[string][]any
	// carry hands the grains' links to the next incarnation after a
	// crash (kit.Carry).
	carry *kit.Carry[rootCrashed]
}

// NewProps returns the props of the root actor. ctx carries the zerolog
// logger every actor of the tree derives its own from (and optionally a task
// group, see WithTaskGroup); its cancellation is not inherited: the tree
// stops when it is stopped, so that a signal does not fail running turns
// before the actors get to stop in order.
func NewProps(ctx context.Context, deps actors.Deps, opts actors.Options) (*actor.Props, error) {
	ctx = context.WithoutCancel(ctx)
	if err := deps.Validate(); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults()
	d := kit.PrepareTree(deps, &opts)
	carry := &kit.Carry[rootCrashed]{}
	return actor.PropsFromProducer(func() actor.Actor {
		return &rootActor{deps: d, opts: &opts, base: ctx, carry: carry}
	}), nil
}

// Spawn starts the root actor in system under RootName.
func Spawn(ctx context.Context, system *actor.ActorSystem, deps actors.Deps, opts actors.Options) (*actor.PID, error) {
	props, err := NewProps(ctx, deps, opts)
	if err != nil {
		return nil, err
	}
	pid, err := system.Root.SpawnNamed(props, actors.RootName)
	if err != nil {
		return nil, fmt.Errorf("failed to spawn the root actor: %w", err)
	}
	return pid, nil
}

// Receive implements actor.Actor.
func (a *rootActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		a.log = *zerolog.Ctx(a.base)
		a.ctx, a.stop = context.WithCancelCause(a.base)
		a.users = kit.NewChildren()
		a.grains = a.newUserLinks()
		if crashed := a.carry.Take(); crashed != nil {
			a.grains.Adopt(c, crashed.grains)
		}
		a.known = map[string]bool{}
		a.checking = map[string][]any{}
		// Reconciliation first: events wait until it reports (UsersLoaded).
		scope := reconcile.AllRooms
		if a.opts.TookOver {
			scope = reconcile.UnrecordedRooms
		}
		if _, err := c.SpawnNamed(reconcile.NewProps(a.ctx, a.deps, scope), "reconcile"); err != nil {
			panic(fmt.Sprintf("failed to spawn the reconcile actor: %v", err))
		}
	case *reconcile.UsersLoaded:
		a.usersLoaded(c, m)
	case *senderChecked:
		a.senderChecked(c, m)
	case *kit.TaskPanicked:
		// A task of the root failed; crashing lets the guardian restart it
		// (and the user list load again) instead of waiting for ever.
		panic(fmt.Sprintf("root task panicked: %s\n%s", m.Value, m.Stack))
	case *actor.Restarting:
		// The users' grains outlive a crash: the next incarnation takes
		// over what they have not acked, before it handles their acks.
		a.carry.Put(&rootCrashed{grains: a.grains})
	case *grain.Placed:
		a.grains.Placed(c, m)
	case *grain.PlaceAgain:
		a.grains.PlaceAgain(c, m)
	case *grain.Reported:
		a.grains.Reported(c, m)
	case *actor.Stopping:
		a.stop(errors.New("root actor stopping"))
	case *actor.Terminated:
		if a.grains.Terminated(c, m.Who) {
			return
		}
		if id, parked := a.users.Terminated(m.Who); id != "" {
			for _, msg := range parked {
				a.toUser(c, id, msg)
			}
		}
	case *kit.ChildIdle:
		a.users.Idle(c, m)
	case *actors.InviteReceived, *actors.MessageReceived, *actors.ReactionReceived, *actors.MessagesSkipped, *actors.DeviceChanged:
		if !a.loaded {
			if len(a.pending) >= maxRootPending {
				a.log.Warn().Int("pending", len(a.pending)).Msg("too many events before the user list loaded, dropping one")
				actors.AckOf(m).Done()
				return
			}
			a.pending = append(a.pending, m)
			return
		}
		a.route(c, m)
	}
}

// maxRootPending bounds the events the root holds while it loads the user
// list at start.
const maxRootPending = 10000

// route sends a Matrix event to the actor of its sender. A message or
// reaction from someone who has no record here and is not onboarding costs
// no actor and no disk write: it is dropped (PRODUCT R6.3).
func (a *rootActor) route(c actor.Context, msg any) {
	var sender string
	switch m := msg.(type) {
	case *actors.InviteReceived:
		a.invite(c, m)
		return
	case *actors.DeviceChanged:
		for _, roomID := range m.RoomIDs {
			kit.NoticeTask(c, a.ctx, a.deps.Matrix, roomID, a.deps.Catalog.T(catalog.DeviceChanged))
		}
		m.Ack.Done()
		return
	case *actors.MessageReceived:
		sender = m.Sender
	case *actors.ReactionReceived:
		sender = m.Sender
	case *actors.MessagesSkipped:
		sender = m.Owner
	}
	if sender == a.opts.BotUserID {
		actors.AckOf(msg).Done()
		return
	}
	if _, running := a.users.PIDs[sender]; !running && !a.grains.Has(sender) && a.known != nil && !a.known[sender] {
		a.checkSender(c, sender, msg)
		return
	}
	a.toUser(c, sender, msg)
}

// senderChecked says whether a sender unknown to the root has a record
// after all (written after the root started, e.g. restored state).
type senderChecked struct {
	sender string
	known  bool
}

// checkSender reads the record of a sender the root does not know before
// deciding: a read costs little, and only a sender without a record is
// dropped. Events from that sender that arrive meanwhile wait, in order.
func (a *rootActor) checkSender(c actor.Context, sender string, msg any) {
	if waiting, ok := a.checking[sender]; ok {
		a.checking[sender] = append(waiting, msg)
		return
	}
	a.checking[sender] = []any{msg}
	store := a.deps.Store
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		_, err := store.GetUser(ctx, sender)
		if err != nil && !errors.Is(err, actors.ErrNotFound) {
			zerolog.Ctx(ctx).Warn().Err(err).Str("sender", sender).Msg("failed to read a sender's record; serving them")
		}
		return &senderChecked{sender: sender, known: !errors.Is(err, actors.ErrNotFound)}
	})
}

func (a *rootActor) senderChecked(c actor.Context, m *senderChecked) {
	msgs := a.checking[m.sender]
	delete(a.checking, m.sender)
	if !m.known {
		a.log.Debug().Str("sender", m.sender).Int("events", len(msgs)).Msg("ignoring events from a sender with no rooms here")
		for _, msg := range msgs {
			actors.AckOf(msg).Done()
		}
		return
	}
	a.known[m.sender] = true
	for _, msg := range msgs {
		a.toUser(c, m.sender, msg)
	}
}

func (a *rootActor) usersLoaded(c actor.Context, m *reconcile.UsersLoaded) {
	if m.Err != nil {
		// Without the list every sender is treated as known, as before
		// there was one: a stranger costs an actor, but no user is ignored.
		a.log.Error().Err(m.Err).Msg("failed to list users; every sender gets an actor")
		a.known = nil
	}
	for _, id := range m.Users {
		a.known[id] = true
	}
	a.loaded = true
	for _, r := range m.Interrupted {
		a.toUser(c, r.OwnerID, &actors.WakeRoom{RoomID: r.RoomID})
	}
	pending := a.pending
	a.pending = nil
	for _, msg := range pending {
		a.route(c, msg)
	}
}

func (a *rootActor) invite(c actor.Context, m *actors.InviteReceived) {
	if m.Inviter == a.opts.BotUserID {
		m.Ack.Done()
		return
	}
	reason := ""
	if !user.ServerAllowed(m.Inviter, a.opts.AllowedServers) {
		reason = "server not allowed"
	} else if _, _, err := a.deps.Registry.AgentFor(m.Inviter); errors.Is(err, actors.ErrAccessDenied) {
		reason = "user not allowed"
	}
	if reason == "" {
		a.toUser(c, m.Inviter, m)
		return
	}
	a.log.Info().Str("room_id", m.RoomID).Str("inviter", m.Inviter).Str("reason", reason).Msg("declining invite")
	m.Ack.Done() // decided; a lost decline leaves an invite, not a message

	matrix, text := a.deps.Matrix, user.DenyMessage(a.opts, a.deps.Catalog)
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		if err := matrix.RejectInvite(ctx, m.RoomID, text); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Str("room_id", m.RoomID).Msg("failed to decline invite")
		}
		return nil
	})
}

func (a *rootActor) user(c actor.Context, userID string) *actor.PID {
	if pid, ok := a.users.PIDs[userID]; ok {
		return pid
	}
	pid, err := c.SpawnNamed(user.NewPropsWith(a.base, a.deps, a.opts, userID), "user-"+url.PathEscape(userID))
	if err != nil {
		a.log.Warn().Err(err).Str("user_id", userID).Msg("user actor name taken")
	}
	a.users.PIDs[userID] = pid
	return pid
}

// toUser sends msg to userID's actor, starting it if needed, or parks it
// while that actor stops (see children).
func (a *rootActor) toUser(c actor.Context, userID string, msg any) {
	if a.deps.Placer != nil {
		a.grains.Send(c, userID, msg)
		return
	}
	a.users.Send(c, userID, msg, func() *actor.PID { return a.user(c, userID) })
}
