package actors

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors/catalog"
)

// RootName is the name the root actor is spawned under.
const RootName = "surfaces"

// rootActor routes Matrix events to one user actor per sender and applies
// the invite policy (PRODUCT R6.1) before any per-user state exists.
type rootActor struct {
	deps  *Deps
	opts  *Options
	base  context.Context
	ctx   context.Context
	stop  context.CancelCauseFunc
	log   zerolog.Logger
	users map[string]*actor.PID
}

// NewRootProps returns the props of the root actor. ctx carries the zerolog
// logger every actor of the tree derives its own from (and optionally a task
// group, see WithTaskGroup); its cancellation is not inherited: the tree
// stops when it is stopped, so that a signal does not fail running turns
// before the actors get to stop in order.
func NewRootProps(ctx context.Context, deps Deps, opts Options) (*actor.Props, error) {
	ctx = context.WithoutCancel(ctx)
	if err := deps.validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	return actor.PropsFromProducer(func() actor.Actor {
		return &rootActor{deps: &deps, opts: &opts, base: ctx}
	}), nil
}

// Spawn starts the root actor in system under RootName.
func Spawn(ctx context.Context, system *actor.ActorSystem, deps Deps, opts Options) (*actor.PID, error) {
	props, err := NewRootProps(ctx, deps, opts)
	if err != nil {
		return nil, err
	}
	pid, err := system.Root.SpawnNamed(props, RootName)
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
		a.users = map[string]*actor.PID{}
		a.findInterrupted(c)
	case *interruptedFound:
		for _, r := range m.rooms {
			c.Send(a.user(c, r.OwnerID), &wakeRoom{roomID: r.RoomID})
		}
	case *actor.Stopping:
		a.stop(errors.New("root actor stopping"))
	case *actor.Terminated:
		forgetChild(a.users, m.Who)
	case *InviteReceived:
		a.invite(c, m)
	case *MessageReceived:
		if m.Sender == a.opts.BotUserID {
			return
		}
		c.Send(a.user(c, m.Sender), m)
	case *ReactionReceived:
		if m.Sender == a.opts.BotUserID {
			return
		}
		c.Send(a.user(c, m.Sender), m)
	}
}

// interruptedFound lists rooms whose turn was cut off by a stop or crash.
type interruptedFound struct{ rooms []RoomRecord }

// findInterrupted looks for rooms with a turn in flight, left by a restart,
// so their users hear about it at once rather than at their next message
// (PRODUCT R7.2). The turn is not replayed to the agent.
func (a *rootActor) findInterrupted(c actor.Context) {
	store := a.deps.Store
	runTask(c, a.ctx, func(ctx context.Context) any {
		users, err := store.ListUsers(ctx)
		if err != nil {
			zerolog.Ctx(ctx).Error().Err(err).Msg("failed to list users for interrupted turns")
			return nil
		}
		found := &interruptedFound{}
		for _, u := range users {
			rooms, err := store.ListRooms(ctx, u.UserID)
			if err != nil {
				zerolog.Ctx(ctx).Error().Err(err).Str("user_id", u.UserID).Msg("failed to list rooms for interrupted turns")
				continue
			}
			for _, r := range rooms {
				if r.TurnInFlight != nil && !r.Archived {
					found.rooms = append(found.rooms, r)
				}
			}
		}
		if len(found.rooms) == 0 {
			return nil
		}
		zerolog.Ctx(ctx).Info().Int("rooms", len(found.rooms)).Msg("found turns interrupted by a restart")
		return found
	})
}

func (a *rootActor) invite(c actor.Context, m *InviteReceived) {
	if m.Inviter == a.opts.BotUserID {
		return
	}
	reason := ""
	if !serverAllowed(m.Inviter, a.opts.AllowedServers) {
		reason = "server not allowed"
	} else if _, _, err := a.deps.Registry.AgentFor(m.Inviter); errors.Is(err, ErrAccessDenied) {
		reason = "user not allowed"
	}
	if reason == "" {
		c.Send(a.user(c, m.Inviter), m)
		return
	}
	a.log.Info().Str("room_id", m.RoomID).Str("inviter", m.Inviter).Str("reason", reason).Msg("declining invite")
	matrix, text := a.deps.Matrix, denyMessage(a.opts, a.deps.Catalog)
	runTask(c, a.ctx, func(ctx context.Context) any {
		if err := matrix.RejectInvite(ctx, m.RoomID, text); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Str("room_id", m.RoomID).Msg("failed to decline invite")
		}
		return nil
	})
}

func (a *rootActor) user(c actor.Context, userID string) *actor.PID {
	if pid, ok := a.users[userID]; ok {
		return pid
	}
	pid, err := c.SpawnNamed(newUserProps(a.base, a.deps, a.opts, userID), "user-"+url.PathEscape(userID))
	if err != nil {
		a.log.Warn().Err(err).Str("user_id", userID).Msg("user actor name taken")
	}
	a.users[userID] = pid
	return pid
}

// serverAllowed reports whether userID's homeserver is in allowed (empty
// allows every server).
func serverAllowed(userID string, allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	_, server, ok := strings.Cut(userID, ":")
	return ok && slices.Contains(allowed, server)
}

// RoomActorID is the process-registry id of the room actor for roomID of
// userID, for tools and tests that address one room directly.
func RoomActorID(userID, roomID string) string {
	return RootName + "/user-" + url.PathEscape(userID) + "/room-" + url.PathEscape(roomID)
}

func denyMessage(opts *Options, cat *catalog.Catalog) string {
	if opts.DenyMessage != "" {
		return opts.DenyMessage
	}
	return cat.T(catalog.AccessDenied)
}
