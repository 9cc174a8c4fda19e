package room

import (
	"context"
	"fmt"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// Results of the room commands' network and disk work.
type (
	// event is the command's event id (see room_commandacks.go).
	renameDone struct {
		inc   uint64
		event string
		name  string
		err   error
	}
	archiveDone struct {
		inc   uint64
		event string
		err   error
	}
	clearDone struct {
		inc    uint64
		event  string
		chatID string
		err    error
	}
)

// runCommand runs a room-scoped command (PRODUCT R2). Commands do not wait
// in the turn queue: they act on the room at once, and those that would cut
// a running reply short refuse with a notice instead.
func (a *roomActor) runCommand(c actor.Context, m *actors.RunCommand) {
	cat := a.deps.Catalog
	switch m.Command.Name {
	case "yes", "no":
		a.confirm(c, m.Command.Name == "yes")
	case "rename":
		a.rename(c, m.Command)
	case "archive":
		a.archive(c, m.Command)
	case "clear":
		a.clear(c)
	case "context":
		a.notice(c, a.contextText())
	case "stop":
		a.stopTurn(c)
	case "retry":
		a.retry(c)
	case "usage":
		a.usage(c)
	case "list":
		a.listStaged(c)
	case "remove":
		a.removeStaged(c, m.Command)
	case "save":
		a.saveContext(c, m.Command)
	case "load":
		a.loadContext(c, m.Command)
	case "agent":
		a.chooseAgent(c, m.Command)
	default:
		// The table routes no other command here; one that arrives anyway
		// is answered rather than ignored.
		a.notice(c, cat.T(catalog.UnknownCmd, "command", m.Command.Word))
	}
}

// rename sets m.room.name, then the record (PRODUCT R2.3).
func (a *roomActor) rename(c actor.Context, cmd actors.Command) {
	name, ok := actors.CleanName(cmd.Args)
	if !ok {
		a.notice(c, a.deps.Catalog.T(catalog.NameEmpty, "command", cmd.Word))
		return
	}
	matrix, roomID, inc, event := a.deps.Matrix, a.roomID, a.inc, a.commandAwaits()
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		err := matrix.SetRoomName(ctx, roomID, name)
		return &renameDone{inc: inc, event: event, name: name, err: err}
	})
}

func (a *roomActor) renamed(c actor.Context, m *renameDone) {
	cat := a.deps.Catalog
	defer a.commandDone(m.event, false)
	if m.err != nil {
		a.log.Error().Err(m.err).Msg("failed to rename the room")
		a.notice(c, cat.T(catalog.RenameFailed))
		return
	}
	a.log.Info().Msg("room renamed")
	a.rec.Name = m.name
	a.commandDone(m.event, true)
	a.save(c)
	a.notice(c, cat.T(catalog.Renamed, "name", m.name))
}

// archive takes the room out of the Space, marks it archived, says so and
// leaves (PRODUCT R2.4). Its platform_chat_id is never handed out again: ids
// come from a sequence that does not reuse them.
func (a *roomActor) archive(c actor.Context, cmd actors.Command) {
	if a.turn != nil {
		a.notice(c, a.deps.Catalog.T(catalog.BusyReply, "command", cmd.Word))
		return
	}
	matrix, spaceID, roomID, inc, event := a.deps.Matrix, a.rec.SpaceID, a.roomID, a.inc, a.commandAwaits()
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		if spaceID == "" {
			return &archiveDone{inc: inc, event: event}
		}
		err := matrix.RemoveFromSpace(ctx, spaceID, roomID)
		return &archiveDone{inc: inc, event: event, err: err}
	})
}

func (a *roomActor) archived(c actor.Context, m *archiveDone) {
	cat := a.deps.Catalog
	defer a.commandDone(m.event, false)
	if m.err != nil {
		a.log.Error().Err(m.err).Msg("failed to remove the room from the Space")
		a.notice(c, cat.T(catalog.ArchiveFailed))
		return
	}
	a.log.Info().Msg("room archived")
	a.rec.Archived = true
	a.queue = nil // the bot leaves: nothing waiting here will be answered
	a.commandDone(m.event, true)
	a.save(c)
	a.dropConn() // the room is done with its agent
	matrix, roomID, text := a.deps.Matrix, a.roomID, cat.T(catalog.Archived, "chat", a.rec.Name)
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		// The notice goes out before the bot leaves, or it could not be posted.
		ctx = context.WithoutCancel(ctx)
		kit.SendNotice(ctx, matrix, roomID, text)
		if err := matrix.LeaveRoom(ctx, roomID); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("failed to leave the archived room")
		}
		return nil
	})
}

// clear binds the room to a fresh platform_chat_id and drops its staged
// files (PRODUCT R2.5). A running reply finishes on the old conversation;
// the next message goes to the new one.
func (a *roomActor) clear(c actor.Context) {
	a.holdTurns++
	store, inc, event := a.deps.Store, a.inc, a.commandAwaits()
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		id, err := store.NextPlatformChatID(ctx)
		return &clearDone{inc: inc, event: event, chatID: id, err: err}
	})
}

func (a *roomActor) cleared(c actor.Context, m *clearDone) {
	defer a.releaseTurns(c)
	defer a.commandDone(m.event, false)
	cat := a.deps.Catalog
	if m.err != nil {
		a.log.Error().Err(m.err).Msg("failed to take a new platform_chat_id")
		a.notice(c, cat.T(catalog.ClearFailed))
		return
	}
	a.log.Info().Str("platform_chat_id", m.chatID).Str("previous", a.rec.PlatformChatID).Msg("room cleared")
	a.deleteFiles(c, a.rec.Staged) // a fresh start takes the waiting files too
	a.rec.Staged = nil
	a.commandDone(m.event, true)
	a.rebind(c, a.rec.AgentID, m.chatID)
	a.notice(c, cat.T(catalog.Cleared))
}

// contextText describes what the room is bound to (PRODUCT R2.6).
func (a *roomActor) contextText() string {
	cat := a.deps.Catalog
	label, agentID := a.agentName(a.rec.AgentID), a.rec.AgentID
	running, last := cat.T(catalog.WordNo), cat.T(catalog.WordNever)
	if a.turn != nil {
		running = cat.T(catalog.WordYes)
	}
	var here usageSum
	here.add(a.rec)
	if !a.rec.LastTurnAt.IsZero() {
		last = a.rec.LastTurnAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	return cat.T(catalog.ContextInfo,
		"chat", a.rec.Name, "agent", label, "agent_id", agentID, "chat_id", a.rec.PlatformChatID,
		"staged", strconv.Itoa(len(a.rec.Staged)), "running", running, "last", last,
		"tokens", fmt.Sprint(a.rec.TokensUsed), "usage", here.text(cat))
}

// releaseTurns ends one hold of holdTurns and starts the next turn if none
// is held any more.
func (a *roomActor) releaseTurns(c actor.Context) {
	a.holdTurns--
	a.startNextTurn(c)
	a.tryHandover(c)
}

// retry sends the room's last failed message again, behind whatever is
// queued (PRODUCT R3.12).
func (a *roomActor) retry(c actor.Context) {
	failed := a.rec.LastFailed
	if failed == nil {
		a.notice(c, a.deps.Catalog.T(catalog.NothingToRetry))
		return
	}
	a.log.Info().Str("event_id", failed.EventID).Msg("retrying the last failed message")
	// Cleared before enqueue, which may start the turn at once (and a turn
	// that fails again sets it anew); restored if a full queue refuses it.
	a.rec.LastFailed = nil
	if !a.enqueue(c, &actors.StartTurn{EventID: failed.EventID, Text: failed.Text}) {
		a.rec.LastFailed = failed
		return
	}
	a.commandWritten()
	a.save(c)
}
