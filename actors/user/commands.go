package user

import (
	"context"
	"slices"
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// command runs a command the user sent in one of their rooms or in the entry
// room: user-scoped ones here, room-scoped ones in the room's actor, which
// then owns the event's Ack (handedOver).
func (a *userActor) command(c actor.Context, m *actors.MessageReceived, cmd actors.Command) (handedOver bool) {
	cat := a.deps.Catalog
	kit.MarkReadTask(c, a.ctx, a.deps.Matrix, m.RoomID, m.EventID) // a command is picked up at once
	roomScoped, known := actors.RoomScoped(cmd.Name)
	switch {
	case !known:
		a.notice(c, m.RoomID, cat.T(catalog.UnknownCmd, "command", cmd.Word))
	case roomScoped:
		room, ok := a.rooms[m.RoomID]
		if !ok || room.Archived {
			a.notice(c, m.RoomID, cat.T(catalog.RoomCommandOnly, "command", cmd.Word))
			return false
		}
		a.toRoom(c, room, &actors.RunCommand{EventID: m.EventID, Command: cmd, Ack: m.Ack})
		return true
	case cmd.Name == "help":
		a.notice(c, m.RoomID, actors.HelpText(cat))
	case cmd.Name == "chats":
		a.notice(c, m.RoomID, a.chatsText(m.RoomID))
	case cmd.Name == "new":
		a.newChat(c, m.RoomID, m.EventID, cmd)
	}
	return false
}

// activeRooms lists the user's chats that are not archived, by chat number.
func (a *userActor) activeRooms() []actors.RoomRecord {
	var active []actors.RoomRecord
	for _, r := range a.rooms {
		if !r.Archived {
			active = append(active, r)
		}
	}
	slices.SortFunc(active, func(x, y actors.RoomRecord) int {
		if x.ChatIndex != y.ChatIndex {
			return x.ChatIndex - y.ChatIndex
		}
		return strings.Compare(x.RoomID, y.RoomID)
	})
	return active
}

// chatsText lists the active chats with links, the one asked from marked
// (PRODUCT R2.2).
func (a *userActor) chatsText(current string) string {
	cat := a.deps.Catalog
	var b strings.Builder
	b.WriteString(cat.T(catalog.ChatsHeader))
	for _, r := range a.activeRooms() {
		b.WriteString("\n")
		b.WriteString(cat.T(catalog.ChatsLine, "chat", r.Name, "link", matrixToLink(r.RoomID)))
		if r.RoomID == current {
			b.WriteString(cat.T(catalog.ChatsCurrent))
		}
	}
	return b.String()
}

// newChat creates a chat in the user's Space (PRODUCT R2.1). Like
// onboarding it holds the user's other messages until it is done, so two
// !new at once make two chats with two numbers, never one number twice.
//
// A !new delivered again after a crash (the kill came once its room was
// made, maybe before the user was invited, but before the sync position
// passed it) finds the chat it made, by RoomRecord.CreatedBy, finishes it
// (the invite, the Space's link) and points to it instead of making a
// second one.
func (a *userActor) newChat(c actor.Context, fromRoom, eventID string, cmd actors.Command) {
	p := &provisioner{deps: a.deps, opts: a.opts, rec: a.rec, entry: fromRoom, event: eventID}
	inc := a.inc
	for _, r := range a.rooms {
		if eventID != "" && r.CreatedBy == eventID {
			a.log.Info().Str("event_id", eventID).Str("room_id", r.RoomID).Msg("!new delivered again, its chat exists")
			a.onboarding = true
			kit.RunTask(c, a.ctx, func(ctx context.Context) any {
				p.reopen(context.WithoutCancel(ctx), r)
				return &provisioned{inc: inc, rec: p.rec}
			})
			return
		}
	}
	if !a.chatQuotaLeft(c, fromRoom) {
		return
	}
	name := ""
	if cmd.Args != "" {
		var ok bool
		if name, ok = actors.CleanName(cmd.Args); !ok {
			a.notice(c, fromRoom, a.deps.Catalog.T(catalog.NameEmpty, "command", cmd.Word))
			return
		}
	}
	a.onboarding = true
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		err := p.newChat(context.WithoutCancel(ctx), name)
		return &provisioned{inc: inc, rec: p.rec, created: p.created, err: err}
	})
}
