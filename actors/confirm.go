package actors

import (
	"context"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors/catalog"
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

// askConfirmation posts the agent's question and offers 👍 and 👎 under it,
// so the user can answer with a tap as well as with !yes or !no (PRODUCT R2.8).
func (a *roomActor) askConfirmation(c actor.Context, t *turn, confirmID, question string) {
	matrix, roomID, turnID := a.deps.Matrix, a.roomID, t.id
	text := a.deps.Catalog.T(catalog.ConfirmRequest, "text", question)
	runTask(c, a.ctx, func(ctx context.Context) any {
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
func (a *roomActor) reacted(c actor.Context, m *ReactionReceived) {
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
	id, conn := t.confirmID, a.conn
	t.confirmID = ""
	a.log.Info().Str("confirm_id", id).Bool("approved", approved).Msg("answering the agent's confirmation request")
	runTask(c, a.ctx, func(ctx context.Context) any {
		if err := conn.Confirm(ctx, id, approved); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("failed to send the confirmation")
		}
		return nil
	})
}
