package user

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/grain"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
	"github.com/surfaces-bot/surfaces/actors/room"
)

// userActor serves one Matrix user: it owns the user's record and Space,
// decides which of the user's messages concern the bot, and supervises one
// room actor per chat room (spawned on demand, restarted alone on a crash).
type userActor struct {
	deps   *kit.Deps
	opts   *actors.Options
	userID string

	base   context.Context
	ctx    context.Context
	cancel context.CancelCauseFunc
	log    zerolog.Logger

	// inc identifies this incarnation (see roomActor.inc).
	inc    uint64
	rec    actors.UserRecord
	known  bool // a record exists
	loaded bool
	rooms  map[string]actors.RoomRecord
	kids   kit.Children
	// grains are the rooms placed by a cluster (grains.go), when
	// deps.Placer is set.
	grains *grain.Links
	// handingOver is set once the user's grain moves (handover.go).
	handingOver bool
	clock       kit.IdleClock
	// deniedIn lists the rooms already told that access was taken away, so
	// each gets one notice, not one per message.
	deniedIn map[string]bool
	// bucket is the user's rate limit, made on first use (nil: no limit yet).
	bucket *actors.TokenBucket
	// rateNoticed is set once the user was told they are over the limit,
	// until a message gets through: a burst earns one notice.
	rateNoticed bool
	// pending holds messages that arrived while loading or onboarding.
	pending    []any
	onboarding bool
	// adopted is the incarnation whose onboarding was still running when
	// it crashed: its result is this incarnation's to apply (the work went
	// on), so the rooms it created are not lost and no second Space is
	// made. early holds that result when it came before the record loaded.
	adopted uint64
	early   *provisioned
	// provisionAck is the Ack of the event that started the onboarding
	// or !new in progress, acked when it is done.
	provisionAck *actors.Ack
	// loadFailures counts the failed reads of the record in a row;
	// retryLoad is the timer of the next (see loadFailed).
	// staging holds the declared sizes of the files being received, by
	// event id (see user_quota.go).
	staging         map[string]int64
	loadFailures    int
	toldLoadFailure bool
	retryLoad       *time.Timer
	// carry hands what a crashed incarnation leaves to the next
	// (kit.Carry, adoptCrashed).
	carry *kit.Carry[userCrashed]
}

type (
	userLoaded struct {
		inc   uint64
		rec   actors.UserRecord
		rooms []actors.RoomRecord
		err   error
	}
	// provisioned reports the end of onboarding or re-inviting.
	provisioned struct {
		inc     uint64
		rec     actors.UserRecord
		created []actors.RoomRecord
		err     error
	}
)

// NewPropsWith is NewProps on deps and opts already prepared and
// defaulted: how the root spawns its user actors. base carries the logger.
func NewPropsWith(base context.Context, deps *kit.Deps, opts *actors.Options, userID string) *actor.Props {
	carry := &kit.Carry[userCrashed]{}
	return actor.PropsFromProducer(func() actor.Actor {
		return &userActor{deps: deps, opts: opts, userID: userID, base: base, carry: carry}
	}, actor.WithSupervisor(roomSupervisor()), actor.WithReceiverMiddleware(opts.UserMiddleware...))
}

// Receive implements actor.Actor.
func (a *userActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		a.start(c)
	case *actor.Stopping:
		a.clock.Stop()
		a.stopRetryLoad()
		a.cancel(errors.New("user actor stopping"))
	case *actor.Restarting:
		a.clock.Stop()
		a.stopRetryLoad()
		// Hand the waiting messages to the next incarnation, oldest first,
		// and the onboarding still running, whose task goes on.
		a.cancel(errors.New("user actor restarting"))
		crashed := &userCrashed{msgs: a.pending, ack: a.provisionAck, grains: a.grains, received: a.clock.Received, handingOver: a.handingOver}
		if a.onboarding {
			crashed.onboarding = a.inc
		}
		a.carry.Put(crashed)
	case *actor.Terminated:
		if a.grains.Terminated(c, m.Who) {
			a.tryHandover(c)
			return
		}
		if id, parked := a.kids.Terminated(m.Who); id != "" {
			for _, msg := range parked {
				if rec, ok := a.rooms[id]; ok {
					a.toRoom(c, rec, msg)
				} else {
					actors.AckOf(msg).Done()
				}
			}
		}
	case *kit.ChildIdle:
		if a.kids.Idle(c, m) {
			a.log.Debug().Str("room_id", m.ID).Msg("room actor idle, stopping it")
		}
	case *kit.PassivateTick:
		a.clock.Tick(c, a.userID, a.idle())
	case *userLoaded:
		if m.inc == a.inc {
			a.userLoaded(c, m)
		}
	case *retryUserLoad:
		if m.inc == a.inc {
			a.retryLoad = nil
			a.load(c)
		}
	case *provisioned:
		switch {
		case m.inc != a.inc && (m.inc != a.adopted || a.adopted == 0):
		case !a.loaded:
			a.early = m
		default:
			a.provisioned(c, m)
			a.tryHandover(c)
		}
	case *kit.Handover:
		a.handover(c)
	case *actors.RoomUpdated:
		a.rooms[m.Record.RoomID] = m.Record
	case *grain.Reported:
		a.grainReported(c, m)
	case *grain.Placed:
		a.grains.Placed(c, m)
	case *grain.PlaceAgain:
		a.grains.PlaceAgain(c, m)
	case *kit.StagingEnded:
		a.stagedEnded(m)
	case *kit.TaskPanicked:
		panic(fmt.Sprintf("user task panicked: %s\n%s", m.Value, m.Stack))
	case *actors.InviteReceived, *actors.MessageReceived, *actors.ReactionReceived, *actors.MessagesSkipped, *actors.WakeRoom:
		a.clock.Received++
		if !a.loaded || a.onboarding || a.handingOver {
			if len(a.pending) >= room.MaxPending {
				a.log.Error().Int("pending", len(a.pending)).Str("type", fmt.Sprintf("%T", m)).Msg("user actor still loading or onboarding, event dropped")
				actors.AckOf(m).Done()
				return
			}
			a.pending = append(a.pending, m)
			a.tellLoadFailure(c)
			return
		}
		a.handle(c, m)
	}
}

func (a *userActor) start(c actor.Context) {
	a.log = zerolog.Ctx(a.base).With().Str("user_id", a.userID).Logger()
	a.ctx, a.cancel = context.WithCancelCause(a.log.WithContext(a.base))
	a.rooms = map[string]actors.RoomRecord{}
	a.staging = map[string]int64{}
	a.kids = kit.NewChildren()
	a.clock = kit.IdleClock{After: a.opts.PassivateAfter}
	a.inc = room.Incarnations.Add(1)
	a.grains = a.newRoomLinks()
	if m := a.carry.Take(); m != nil {
		a.adoptCrashed(c, m)
	}
	a.load(c)
}

// adoptCrashed takes over what the crashed incarnation before left, at
// Started: ahead of anything in the mailbox, such as a room grain's ack
// that came while the actor restarted (kit.Carry).
func (a *userActor) adoptCrashed(c actor.Context, m *userCrashed) {
	a.pending = append(m.msgs, a.pending...)
	a.provisionAck = m.ack
	a.grains.Adopt(c, m.grains)
	a.clock.Received += m.received
	a.handingOver = a.handingOver || m.handingOver
	if m.onboarding != 0 {
		a.onboarding, a.adopted = true, m.onboarding
	}
	a.tryHandover(c)
}

// load reads the user's record and rooms in a task (userLoaded).
func (a *userActor) load(c actor.Context) {
	store, userID, inc := a.deps.Store, a.userID, a.inc
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		rec, err := store.GetUser(ctx, userID)
		if err != nil {
			return &userLoaded{inc: inc, err: err}
		}
		rooms, err := store.ListRooms(ctx, userID)
		return &userLoaded{inc: inc, rec: rec, rooms: rooms, err: err}
	})
}

func (a *userActor) userLoaded(c actor.Context, m *userLoaded) {
	switch {
	case m.err == nil:
		a.rec, a.known = m.rec, true
		for _, r := range m.rooms {
			a.rooms[r.RoomID] = r
		}
	case errors.Is(m.err, actors.ErrNotFound):
		a.rec = actors.UserRecord{UserID: a.userID}
	default:
		// Without the record the actor cannot tell which rooms are the
		// user's: it holds their events and reads again (loadFailed).
		a.loadFailed(c, m.err)
		return
	}
	if a.loadFailures > 0 {
		a.log.Info().Int("failures", a.loadFailures).Msg("user record read again")
		a.loadFailures, a.toldLoadFailure = 0, false
	}
	a.loaded = true
	a.clock.Arm(c)
	a.wakeUnfinishedRooms(c)
	if m := a.early; m != nil {
		a.early = nil
		a.provisioned(c, m) // drains
		return
	}
	a.drain(c)
}

func (a *userActor) drain(c actor.Context) {
	for len(a.pending) > 0 && !a.onboarding && !a.handingOver {
		m := a.pending[0]
		a.pending = a.pending[1:]
		a.handle(c, m)
	}
}

// handle decides what an event means for this user. Its Ack is acked here,
// once decided, unless a room actor took the message over: that one acks
// when the message is in its record.
func (a *userActor) handle(c actor.Context, msg any) {
	handedOver, wasOnboarding := false, a.onboarding
	defer func() {
		if !wasOnboarding && a.onboarding && a.provisionAck == nil {
			// It started onboarding or a !new: acked once the rooms
			// exist, so a kill meanwhile has it delivered again.
			a.provisionAck, handedOver = actors.AckOf(msg), true
		}
		if !handedOver {
			actors.AckOf(msg).Done()
		}
	}()
	switch m := msg.(type) {
	case *actors.InviteReceived:
		a.invited(c, m)
	case *actors.MessageReceived:
		handedOver = a.message(c, m)
	case *actors.ReactionReceived:
		// Only the owner's reactions in their own chats mean anything.
		if room, ok := a.rooms[m.RoomID]; ok && !room.Archived {
			a.toRoom(c, room, m)
		}
	case *actors.WakeRoom:
		if rec, ok := a.rooms[m.RoomID]; ok && a.grained() {
			a.grains.Send(c, rec.RoomID, nil)
		} else if _, stopping := a.kids.Parked[m.RoomID]; !stopping && ok {
			a.room(c, rec)
		}
	case *actors.MessagesSkipped:
		if room, ok := a.rooms[m.RoomID]; ok && !room.Archived {
			a.log.Warn().Str("room_id", m.RoomID).Msg("messages sent while the bot was away were not read")
			a.notice(c, m.RoomID, a.deps.Catalog.T(catalog.MessagesSkipped))
		}
	}
}

// userCrashed is what a crashed incarnation hands the next (kit.Carry):
// its waiting messages, and the incarnation whose onboarding task is still
// running (0: none).
type userCrashed struct {
	msgs       []any
	onboarding uint64
	// ack is the Ack of the event whose onboarding is still running.
	ack *actors.Ack
	// grains are the room grains and what they have not acked.
	grains *grain.Links
	// received is what the parent's count of messages sent must match
	// for the next incarnation to passivate (kit.ChildIdle).
	received uint64
	// handingOver: the crashed incarnation was handing over (its links
	// closed); so is the next.
	handingOver bool
}

// invited joins the room and onboards the user, or, for a user who already
// has a Space, re-invites them to it and every active chat (PRODUCT R1.2–R1.3).
func (a *userActor) invited(c actor.Context, m *actors.InviteReceived) {
	a.log.Info().Str("room_id", m.RoomID).Bool("is_direct", m.IsDirect).Msg("invited")
	a.provision(c, m.RoomID, m.EventID, true)
}

// message routes a message; handedOver reports that a room actor took it
// (with its Ack).
func (a *userActor) message(c actor.Context, m *actors.MessageReceived) (handedOver bool) {
	log := a.log.With().Str("room_id", m.RoomID).Str("event_id", m.EventID).Logger()
	room, managed := a.rooms[m.RoomID]
	entry := a.known && m.RoomID == a.rec.EntryRoomID
	if (!managed || room.Archived) && !entry {
		log.Debug().Msg("ignoring message in a room this user does not own")
		return false
	}
	if !a.hasAccess(c, m.RoomID) {
		return false
	}
	if !a.withinRateLimit(c, m) {
		return false
	}
	// A caption travels with its file (PRODUCT R4.1): it is never a command.
	if cmd, ok := actors.ParseCommand(m.Body); ok && m.MsgType != "m.notice" && m.Media == nil {
		return a.command(c, m, cmd)
	}
	if m.MsgType == actors.MsgTypeUndecryptable {
		// Wherever it was, the sender should know it was not read.
		a.notice(c, m.RoomID, a.deps.Catalog.T(catalog.Undecryptable))
		return false
	}
	if entry && !managed && m.Media != nil {
		a.notice(c, m.RoomID, a.deps.Catalog.T(catalog.FilesInChat))
		return false
	}
	if entry && !managed {
		// Talking in the entry room: point the user to their Space again.
		a.provision(c, m.RoomID, m.EventID, false)
		return false
	}
	switch m.MsgType {
	case "m.text", "m.emote":
		a.toRoom(c, room, &actors.StartTurn{EventID: m.EventID, Sender: m.Sender, Text: m.Body, Ack: m.Ack, ReceivedAt: m.ReceivedAt})
		return true
	case actors.MsgTypeEncrypted:
		a.notice(c, m.RoomID, a.deps.Catalog.T(catalog.EncryptedNotSupported))

	case "m.file", "m.image", "m.audio", "m.video":
		if m.Media == nil || m.Media.URL == "" {
			log.Debug().Msg("ignoring a file message without media")
			return false
		}
		limit, ok := a.stagedQuota(c, m)
		if !ok {
			return false
		}
		a.toRoom(c, room, &actors.StageFile{EventID: m.EventID, Sender: m.Sender, Media: *m.Media, Caption: m.Body, Ack: m.Ack, Limit: limit})
		return true
	default:
		log.Debug().Str("msgtype", m.MsgType).Msg("ignoring message type")
	}
	return false
}

// room returns the room actor of rec, spawning it if needed.
func (a *userActor) room(c actor.Context, rec actors.RoomRecord) *actor.PID {
	if pid, ok := a.kids.PIDs[rec.RoomID]; ok {
		return pid
	}
	pid, err := c.SpawnNamed(room.NewPropsWith(a.base, a.deps, a.opts, rec), "room-"+url.PathEscape(rec.RoomID))
	if err != nil {
		// The name is taken only if a stopping child still holds it; the
		// existing PID still receives messages until it is gone.
		a.log.Warn().Err(err).Str("room_id", rec.RoomID).Msg("room actor name taken")
	}
	a.kids.PIDs[rec.RoomID] = pid
	return pid
}

// toRoom sends msg to the room actor of rec, starting it if needed, or
// parks it while that actor stops (see children).
func (a *userActor) toRoom(c actor.Context, rec actors.RoomRecord, msg any) {
	if a.grained() {
		a.grains.Send(c, rec.RoomID, msg)
		return
	}
	a.kids.Send(c, rec.RoomID, msg, func() *actor.PID { return a.room(c, rec) })
}

// idle reports whether the user actor may stop: loaded, not onboarding,
// nothing waiting, and no room actor left.
func (a *userActor) idle() bool {
	return a.loaded && !a.onboarding && len(a.pending) == 0 && len(a.kids.PIDs) == 0 && a.grains.Len() == 0
}

func (a *userActor) notice(c actor.Context, roomID, text string) {
	kit.NoticeTask(c, a.ctx, a.deps.Matrix, roomID, text)
}

// roomSupervisor restarts a crashed room actor alone; its siblings and the
// user actor carry on.
func roomSupervisor() actor.SupervisorStrategy {
	return actor.NewOneForOneStrategy(10, time.Minute, func(reason any) actor.Directive {
		return actor.RestartDirective
	})
}

// hasAccess checks every message against the current registry and
// allowed_servers (PRODUCT R6.1), not only the first invite: a user the
// operator removed under the deny policy gets one notice per room and
// nothing reaches an agent. Under the default policy a user without a
// mapping keeps the default agent.
func (a *userActor) hasAccess(c actor.Context, roomID string) bool {
	_, _, err := a.deps.Registry.AgentFor(a.userID)
	denied := errors.Is(err, actors.ErrAccessDenied) || !ServerAllowed(a.userID, a.opts.AllowedServers)
	if !denied {
		delete(a.deniedIn, roomID)
		return true
	}
	if a.deniedIn == nil {
		a.deniedIn = map[string]bool{}
	}
	if !a.deniedIn[roomID] {
		a.deniedIn[roomID] = true
		a.log.Info().Str("room_id", roomID).Msg("message from a user whose access was taken away")
		a.notice(c, roomID, DenyMessage(a.opts, a.deps.Catalog))
	}
	return false
}

// ServerAllowed reports whether userID's homeserver is in allowed (empty
// allows every server).
func ServerAllowed(userID string, allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	_, server, ok := strings.Cut(userID, ":")
	return ok && slices.Contains(allowed, server)
}

// DenyMessage is what a user whose access is denied is told.
func DenyMessage(opts *actors.Options, cat *catalog.Catalog) string {
	if opts.DenyMessage != "" {
		return opts.DenyMessage
	}
	return cat.T(catalog.AccessDenied)
}
