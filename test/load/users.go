package load

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// onboard invites the bot to a DM as a person would, follows the bot's
// invitations to the Space and Chat 1, and makes rooms-1 more chats with
// !new. It returns the chats, Chat 1 first.
func onboard(ctx context.Context, bot id.UserID, u *harness.UserClient, rooms int) ([]id.RoomID, error) {
	dm, err := u.CreateDM(ctx, bot)
	if err != nil {
		return nil, err
	}
	chat, err := u.WaitInvite(ctx, func(inv harness.Invite) bool {
		return inv.Sender == bot && inv.RoomID != dm && inv.RoomType() == ""
	})
	if err != nil {
		return nil, fmt.Errorf("%s got no Chat 1: %w", u.UserID(), err)
	}
	chats := []id.RoomID{chat.RoomID}
	if err := welcomed(ctx, bot, u, chat.RoomID); err != nil {
		return nil, err
	}
	for len(chats) < rooms {
		if _, err := u.SendText(ctx, chat.RoomID, "!new"); err != nil {
			return nil, fmt.Errorf("asking for chat %d: %w", len(chats)+1, err)
		}
		inv, err := u.WaitInvite(ctx, func(inv harness.Invite) bool {
			return inv.Sender == bot && inv.RoomID != dm && inv.RoomType() == "" && !slices.Contains(chats, inv.RoomID)
		})
		if err != nil {
			return nil, fmt.Errorf("%s got no chat %d: %w", u.UserID(), len(chats)+1, err)
		}
		chats = append(chats, inv.RoomID)
	}
	for _, room := range chats[1:] {
		if err := welcomed(ctx, bot, u, room); err != nil {
			return nil, err
		}
	}
	return chats, nil
}

// welcomed waits until the user joined room and saw the bot's welcome, the
// last thing the bot sends while it makes a chat.
func welcomed(ctx context.Context, bot id.UserID, u *harness.UserClient, room id.RoomID) error {
	if err := u.WaitJoined(ctx, room); err != nil {
		return err
	}
	if _, err := u.WaitMessage(ctx, room, func(m harness.Message) bool {
		return m.Sender == bot && m.MsgType == event.MsgNotice
	}); err != nil {
		return fmt.Errorf("%s saw no welcome in %s: %w", u.UserID(), room, err)
	}
	return nil
}

// talk sends the run's turns in one chat, one after the other, each once
// the reply to the one before is complete, and records what the user saw.
func (r *run) talk(ctx context.Context, u *harness.UserClient, user string, room id.RoomID, j int) error {
	for k := range r.cfg.Turns {
		turn, err := r.oneTurn(ctx, u, user, room, j, k)
		if err != nil {
			return err
		}
		r.add(turn)
		if k < r.cfg.Turns-1 {
			if err := pause(ctx, r.cfg.Pace); err != nil {
				return err
			}
		}
	}
	return nil
}

// oneTurn sends turn k of chat j and waits for its reply, first visible
// then complete; a reply that never comes is a Turn without them.
func (r *run) oneTurn(ctx context.Context, u *harness.UserClient, user string, room id.RoomID, j, k int) (Turn, error) {
	bot := r.stack.BotID
	text := fmt.Sprintf("%s chat %d turn %d", user, j+1, k+1)
	msg, want := text, "echo: "+text
	if r.cfg.Stream > 0 {
		n := max(1, int(r.cfg.Stream/chunkEvery))
		msg = fmt.Sprintf("/slow %d", n)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf("chunk %d", i+1)
		}
		want = strings.Join(parts, " ")
	}
	turn := Turn{User: user, Room: room.String(), Text: text, want: want}
	start := time.Now()
	sent, err := u.SendText(ctx, room, msg)
	if err != nil {
		return Turn{}, fmt.Errorf("turn %d of chat %d: %w", k+1, j+1, err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, r.cfg.ReplyTimeout)
	reply := func(final bool) func(harness.Message) bool {
		return func(m harness.Message) bool {
			return m.Sender == bot && m.MsgType == event.MsgText && u.ArrivedAfter(room, sent, m.EventID) &&
				(!final || strings.TrimSpace(m.FinalBody) == want)
		}
	}
	if _, err := u.WaitMessage(waitCtx, room, reply(false)); err == nil {
		turn.FirstVisible = time.Since(start)
		if m, err := u.WaitMessage(waitCtx, room, reply(true)); err == nil {
			turn.Complete, turn.Edits, turn.Replies = time.Since(start), m.Edits, 1
		}
	}
	cancel()
	if ctx.Err() != nil {
		return Turn{}, ctx.Err()
	}
	return turn, nil
}

// countReplies is how many complete bot replies a chat holds (messages
// whose final text is one of wants), to find doubled ones after the run.
func countReplies(u *harness.UserClient, bot id.UserID, room id.RoomID, wants map[string]bool) int {
	n := 0
	for _, m := range u.Messages(room) {
		if m.Sender == bot && m.MsgType == event.MsgText && wants[strings.TrimSpace(m.FinalBody)] {
			n++
		}
	}
	return n
}
