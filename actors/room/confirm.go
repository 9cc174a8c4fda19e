package room

import (
	"context"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// The reactions that answer a confirmation request. Clients add variation
// selectors and skin tones ("👍️", "👍🏽"), so a key is matched by its prefix.
const (
	reactYes = "👍"
	reactNo  = "👎"
)

// confirmPosted carries the event id of the notice asking for confirmation.
type confirmPosted struct {
	turnID    uint64
	confirmID string
	eventID   string
}

type (
	// confirmTimedOut: nobody answered the request within ConfirmTimeout.
	confirmTimedOut struct {
		turnID    uint64
		confirmID string
	}
	// confirmFailed: the answer could not be sent to the agent.
	confirmFailed struct {
		turnID    uint64
		confirmID string
		err       error
	}
)

// askConfirmation posts the agent's question and offers 👍 and 👎 under it,
// so the user can answer with a tap as well as with !yes or !no (PRODUCT R2.8).
func (a *roomActor) askConfirmation(c actor.Context, t *turn, confirmID, question string) {
	matrix, roomID, turnID := a.deps.Matrix, a.roomID, t.id
	text := a.deps.Catalog.T(catalog.ConfirmRequest, "text", question)
	// The agent waits for a person (its idle timeout is paused), but not
	// for ever: after ConfirmTimeout the request is declined.
	kit.SendLater(c, a.opts.ConfirmTimeout, &confirmTimedOut{turnID: turnID, confirmID: confirmID})
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		ctx = context.WithoutCancel(ctx)
		eventID, err := matrix.SendNotice(ctx, roomID, text)
		if err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("failed to post the confirmation request")
			return nil
		}
		for _, key := range []string{reactYes, reactNo} {
			if err := matrix.SendReaction(ctx, roomID, eventID, key); err != nil {
				zerolog.Ctx(ctx).Warn().Err(err).Str("key", key).Msg("failed to offer a reaction")
			}
		}
		return &confirmPosted{turnID: turnID, confirmID: confirmID, eventID: eventID}
	})
}

func (a *roomActor) confirmPosted(m *confirmPosted) {
	if t := a.turn; t != nil && t.id == m.turnID && t.confirmID == m.confirmID {
		t.confirmEventID = m.eventID
	}
}

// reacted answers the open confirmation request when the reaction is a 👍 or
// 👎 to the notice that asked it; any other reaction is not for the bot.
func (a *roomActor) reacted(c actor.Context, m *actors.ReactionReceived) {
	if a.reactedStop(c, m) {
		return
	}
	t := a.turn
	if t == nil || t.confirmID == "" || t.confirmEventID == "" || m.RelatesTo != t.confirmEventID {
		a.log.Debug().Str("event_id", m.EventID).Msg("ignoring a reaction that answers nothing")
		return
	}
	switch {
	case strings.HasPrefix(m.Key, reactYes):
		a.confirm(c, true)
	case strings.HasPrefix(m.Key, reactNo):
		a.confirm(c, false)
	}
}

// confirm answers the agent's pending confirmation request (PRODUCT R2.8).
func (a *roomActor) confirm(c actor.Context, approved bool) {
	t := a.turn
	if t == nil || t.confirmID == "" || a.conn == nil {
		a.notice(c, a.deps.Catalog.T(catalog.NothingToConfirm))
		return
	}
	id, conn, turnID := t.confirmID, a.conn, t.id
	t.confirmID = ""
	a.log.Info().Str("confirm_id", id).Bool("approved", approved).Msg("answering the agent's confirmation request")
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		if err := conn.Confirm(ctx, id, approved); err != nil {
			return &confirmFailed{turnID: turnID, confirmID: id, err: err}
		}
		return nil
	})
}

// confirmTimedOutDone declines a request nobody answered in time.
func (a *roomActor) confirmTimedOutDone(c actor.Context, m *confirmTimedOut) {
	t := a.turn
	if t == nil || t.id != m.turnID || t.confirmID != m.confirmID {
		return // answered, or the turn is over
	}
	a.log.Info().Str("confirm_id", m.confirmID).Msg("confirmation request not answered in time, declining")
	a.notice(c, a.deps.Catalog.T(catalog.ConfirmTimedOut))
	a.confirm(c, false)
}

// confirmFailedDone tells the user the answer did not reach the agent, and
// keeps the request open so they can answer again.
func (a *roomActor) confirmFailedDone(c actor.Context, m *confirmFailed) {
	a.log.Warn().Err(m.err).Str("confirm_id", m.confirmID).Msg("failed to send the confirmation")
	if t := a.turn; t != nil && t.id == m.turnID && t.confirmID == "" {
		t.confirmID = m.confirmID
	}
	a.notice(c, a.deps.Catalog.T(catalog.ConfirmNotSent))
}
