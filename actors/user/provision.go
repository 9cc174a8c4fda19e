package user

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// provision makes sure the user has a Space with at least one active chat
// and is invited to all of it, then tells them in the entry room. It is
// idempotent: what exists is re-invited, only what is missing is created,
// and every created id is stored before the next step, so a crash half-way
// never creates a second Space (PRODUCT R1.2–R1.3).
func (a *userActor) provision(c actor.Context, entryRoomID, eventID string, join bool) {
	a.onboarding = true
	p := &provisioner{deps: a.deps, opts: a.opts, rec: a.rec, active: a.activeRooms(), entry: entryRoomID, join: join, event: eventID}
	inc := a.inc
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		err := p.run(context.WithoutCancel(ctx))
		return &provisioned{inc: inc, rec: p.rec, created: p.created, err: err}
	})
}

func (a *userActor) provisioned(c actor.Context, m *provisioned) {
	a.onboarding, a.adopted = false, 0
	a.provisionAck.Done()
	a.provisionAck = nil
	if m.err != nil {
		a.log.Error().Err(m.err).Msg("failed to provision the user's Space")
	}
	if m.rec.UserID != "" {
		a.rec = m.rec
		a.known = a.rec.SpaceID != "" || a.rec.EntryRoomID != ""
	}
	for _, r := range m.created {
		a.rooms[r.RoomID] = r
	}
	a.drain(c)
}

// provisioner does the network work of provision in a task goroutine. It
// works on copies; the user actor adopts rec and created when it is done.
type provisioner struct {
	deps    *kit.Deps
	opts    *actors.Options
	rec     actors.UserRecord
	active  []actors.RoomRecord
	entry   string
	join    bool
	created []actors.RoomRecord
	// event is the event that asked for the rooms (RoomRecord.CreatedBy).
	event string
}

func (p *provisioner) run(ctx context.Context) error {
	log := zerolog.Ctx(ctx)
	m, cat := p.deps.Matrix, p.deps.Catalog
	if p.join {
		if err := m.JoinRoom(ctx, p.entry); err != nil {
			return fmt.Errorf("failed to join entry room %s: %w", p.entry, err)
		}
		// In the entry room only the user's commands work (MSC4391).
		if err := m.SetCommands(ctx, p.entry, actors.CommandDescriptions(cat, false)); err != nil {
			log.Warn().Err(err).Str("room_id", p.entry).Msg("failed to publish the command descriptions in the entry room")
		}
	}
	agent, assigned, err := p.deps.Registry.AgentFor(p.rec.UserID)
	if err != nil {
		if errors.Is(err, actors.ErrAccessDenied) {
			p.notice(ctx, p.entry, DenyMessage(p.opts, cat))
		}
		return fmt.Errorf("failed to pick an agent for %s: %w", p.rec.UserID, err)
	}
	name, err := m.DisplayName(ctx, p.rec.UserID)
	if err != nil || name == "" {
		name = p.rec.UserID
	}
	now := time.Now()
	if p.rec.CreatedAt.IsZero() {
		p.rec.CreatedAt = now
	}
	if p.join || p.rec.EntryRoomID == "" {
		// The room of the latest invite is where the user looks for the bot.
		p.rec.EntryRoomID = p.entry
	}
	if p.rec.AgentID == "" || assigned {
		p.rec.AgentID = agent.ID
	}
	if err := p.saveUser(ctx); err != nil {
		return err
	}

	if err := p.ensureSpace(ctx, name); err != nil {
		p.notice(ctx, p.entry, cat.T(catalog.OnboardingFailed))
		return err
	}
	if len(p.active) > 0 {
		for _, r := range p.active {
			if err := m.Invite(ctx, r.RoomID, p.rec.UserID); err != nil {
				log.Warn().Err(err).Str("room_id", r.RoomID).Msg("re-invite failed")
			}
		}
		p.notice(ctx, p.entry, cat.T(catalog.Reinvited, "space", spaceName(p.opts, cat, name)))
		return nil
	}
	room, err := p.createChat(ctx, agent, !assigned, name, "")
	if err != nil {
		p.notice(ctx, p.entry, cat.T(catalog.OnboardingFailed))
		return err
	}
	if !assigned && !p.rec.DefaultAgentNoticed {
		p.notice(ctx, room.RoomID, cat.T(catalog.DefaultAgent, "agent", kit.AgentLabel(agent)))
		p.rec.DefaultAgentNoticed = true
		if err := p.saveUser(ctx); err != nil {
			return err
		}
	}
	if p.entry != room.RoomID {
		p.notice(ctx, p.entry, cat.T(catalog.EntryPointer,
			"space", spaceName(p.opts, cat, name), "chat", room.Name, "link", matrixToLink(room.RoomID)))
	}
	return nil
}

func (p *provisioner) ensureSpace(ctx context.Context, name string) error {
	m := p.deps.Matrix
	if p.rec.SpaceID != "" {
		if err := m.Invite(ctx, p.rec.SpaceID, p.rec.UserID); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Str("space_id", p.rec.SpaceID).Msg("re-invite to the Space failed")
		}
		return nil
	}
	p.rec.UpdatedAt = time.Now()
	spaceID, err := m.CreateSpace(ctx, spaceName(p.opts, p.deps.Catalog, name), []string{p.rec.UserID}, actors.SpaceStateOf(p.rec))
	if err != nil {
		return fmt.Errorf("failed to create Space: %w", err)
	}
	p.rec.SpaceID = spaceID
	return p.saveUser(ctx)
}

// newChat creates one more chat for a user who has a Space (!new), named
// chatName or "Chat N", and points to it from the room the command came from.
func (p *provisioner) newChat(ctx context.Context, chatName string) error {
	m, cat := p.deps.Matrix, p.deps.Catalog
	agent, assigned, err := p.deps.Registry.AgentFor(p.rec.UserID)
	if err != nil {
		if errors.Is(err, actors.ErrAccessDenied) {
			p.notice(ctx, p.entry, DenyMessage(p.opts, cat))
		} else {
			p.notice(ctx, p.entry, cat.T(catalog.ChatFailed))
		}
		return fmt.Errorf("failed to pick an agent for %s: %w", p.rec.UserID, err)
	}
	name, err := m.DisplayName(ctx, p.rec.UserID)
	if err != nil || name == "" {
		name = p.rec.UserID
	}
	if err := p.ensureSpace(ctx, name); err != nil {
		p.notice(ctx, p.entry, cat.T(catalog.ChatFailed))
		return err
	}
	room, err := p.createChat(ctx, agent, !assigned, name, chatName)
	if err != nil {
		p.notice(ctx, p.entry, cat.T(catalog.ChatFailed))
		return err
	}
	p.notice(ctx, p.entry, cat.T(catalog.ChatCreated, "chat", room.Name, "link", matrixToLink(room.RoomID)))
	return nil
}

// reopen finishes a chat an earlier delivery of the same !new made, which a
// crash may have cut short (the user not invited yet, the room not in the
// Space), and points to it from the room the command came from.
func (p *provisioner) reopen(ctx context.Context, room actors.RoomRecord) {
	m, log := p.deps.Matrix, zerolog.Ctx(ctx)
	if err := m.Invite(ctx, room.RoomID, p.rec.UserID); err != nil {
		log.Warn().Err(err).Str("room_id", room.RoomID).Msg("re-invite failed")
	}
	if room.SpaceID != "" {
		if err := m.AddToSpace(ctx, room.SpaceID, room.RoomID); err != nil {
			log.Warn().Err(err).Str("room_id", room.RoomID).Msg("failed to list the chat in the Space")
		}
	}
	p.notice(ctx, p.entry, p.deps.Catalog.T(catalog.ChatCreated, "chat", room.Name, "link", matrixToLink(room.RoomID)))
}

// createChat creates a chat in the Space, named chatName or "Chat N", bound
// to agent (the default one when defaulted) and a fresh platform_chat_id,
// and welcomes the user (name) in it.
func (p *provisioner) createChat(ctx context.Context, agent actors.AgentRef, defaulted bool, name, chatName string) (actors.RoomRecord, error) {
	st, m, cat := p.deps.Store, p.deps.Matrix, p.deps.Catalog
	p.rec.ChatCounter++
	if err := p.saveUser(ctx); err != nil {
		return actors.RoomRecord{}, err
	}
	chatID, err := st.NextPlatformChatID(ctx)
	if err != nil {
		return actors.RoomRecord{}, fmt.Errorf("failed to take a platform_chat_id: %w", err)
	}
	n := p.rec.ChatCounter
	switch {
	case chatName != "":
	case n == 1 && p.opts.FirstChatName != "":
		chatName = p.opts.FirstChatName
	default:
		chatName = cat.T(catalog.ChatName, "n", strconv.Itoa(n))
	}
	now := time.Now()
	room := actors.RoomRecord{
		OwnerID: p.rec.UserID, SpaceID: p.rec.SpaceID, ChatIndex: n, Name: chatName,
		PlatformChatID: chatID, AgentID: agent.ID, AgentDefaulted: defaulted, CreatedBy: p.event, CreatedAt: now, UpdatedAt: now,
	}
	// The room carries its own description from its first event on, so an
	// empty state directory can serve it again (PRODUCT R11).
	cmds := actors.CommandDescriptions(cat, true)
	roomID, err := m.CreateChatRoom(ctx, p.rec.SpaceID, chatName, []string{p.rec.UserID}, actors.ChatStateOf(room), cmds)
	if roomID == "" {
		return actors.RoomRecord{}, fmt.Errorf("failed to create chat room %q: %w", chatName, err)
	}
	if err != nil {
		// The room exists and the user is invited: keep it usable rather
		// than orphan it; only its listing in the Space is missing.
		zerolog.Ctx(ctx).Error().Err(err).Str("room_id", roomID).Msg("chat room created but not linked to the Space")
	}
	room.RoomID = roomID
	room.CommandsVersion = actors.CommandsVersion(cmds) // in the room's initial state
	if err := st.PutRoom(ctx, room); err != nil {
		return actors.RoomRecord{}, fmt.Errorf("failed to store room %s: %w", roomID, err)
	}
	p.created = append(p.created, room)
	zerolog.Ctx(ctx).Info().Str("room_id", roomID).Str("platform_chat_id", chatID).Str("agent_id", agent.ID).Msg("chat created")
	p.notice(ctx, roomID, cat.T(catalog.Welcome,
		"name", name, "chat", chatName, "agent", kit.AgentLabel(agent), "commands", actors.HelpText(cat)))
	return room, nil
}

// saveUser stores the user record and, once there is a Space, the Space's
// state event, which is what an empty state directory rebuilds it from.
func (p *provisioner) saveUser(ctx context.Context) error {
	p.rec.UpdatedAt = time.Now()
	if err := p.deps.Store.PutUser(ctx, p.rec); err != nil {
		return fmt.Errorf("failed to store user %s: %w", p.rec.UserID, err)
	}
	if p.rec.SpaceID != "" {
		if err := p.deps.Matrix.SetSpaceState(ctx, p.rec.SpaceID, actors.SpaceStateOf(p.rec)); err != nil {
			// The next change writes it again; reconciliation repairs it.
			zerolog.Ctx(ctx).Warn().Err(err).Str("space_id", p.rec.SpaceID).Msg("failed to write the Space state")
		}
	}
	return nil
}

func (p *provisioner) notice(ctx context.Context, roomID, text string) {
	kit.SendNotice(ctx, p.deps.Matrix, roomID, text)
}

func spaceName(opts *actors.Options, cat *catalog.Catalog, name string) string {
	if opts.SpaceNameTemplate != "" {
		return strings.ReplaceAll(opts.SpaceNameTemplate, "{name}", name)
	}
	return cat.T(catalog.SpaceName, "name", name)
}

// matrixToLink is a client-neutral link to a room. Room ids are safe in a
// URL fragment as they are, and clients recognise the unescaped form.
func matrixToLink(roomID string) string {
	return "https://matrix.to/#/" + roomID
}
