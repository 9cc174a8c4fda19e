package load

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
		turn, err := r.oneTurn(ctx, u, user, room, j, k, nil)
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
// then complete, or for the notice that it was cut (a member killed while
// it streamed: Turn.Cut); a reply that never comes is a Turn without them.
// onFirst, when set, is called once the reply's first message showed, or
// the wait for it ended.
func (r *run) oneTurn(ctx context.Context, u *harness.UserClient, user string, room id.RoomID, j, k int, onFirst func()) (Turn, error) {
	var firstOnce sync.Once
	first := func() {
		if onFirst != nil {
			firstOnce.Do(onFirst)
		}
	}
	defer first()
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
	turn.sent = start
	sent, err := u.SendText(ctx, room, msg)
	if err != nil {
		return Turn{}, fmt.Errorf("turn %d of chat %d: %w", k+1, j+1, err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, r.cfg.ReplyTimeout)
	mine := func(m harness.Message) bool { return m.Sender == bot && u.ArrivedAfter(room, sent, m.EventID) }
	cut := func(m harness.Message) bool {
		return mine(m) && m.MsgType == event.MsgNotice && strings.HasPrefix(m.FinalBody, cutNotice)
	}
	reply := func(final bool) func(harness.Message) bool {
		return func(m harness.Message) bool {
			return cut(m) || (mine(m) && m.MsgType == event.MsgText && (!final || strings.TrimSpace(m.FinalBody) == want))
		}
	}
	if m, err := u.WaitMessage(waitCtx, room, reply(false)); err == nil {
		if !cut(m) {
			turn.FirstVisible = time.Since(start)
		}
		first()
		if m, err := u.WaitMessage(waitCtx, room, reply(true)); err == nil {
			if cut(m) {
				turn.Cut = true
				if r.cluster != nil {
					if at := r.cluster.killBefore(m.Timestamp); !at.IsZero() {
						turn.ToldCut, turn.CutStamped = time.Since(at), m.Timestamp.Sub(at)
					}
				}
			} else {
				turn.Complete, turn.Edits, turn.Replies = time.Since(start), m.Edits, 1
			}
		}
	}
	cancel()
	if ctx.Err() != nil {
		return Turn{}, ctx.Err()
	}
	return turn, nil
}

// countCutNotices is how many notices of a cut reply a chat holds.
func countCutNotices(u *harness.UserClient, bot id.UserID, room id.RoomID) int {
	n := 0
	for _, m := range u.Messages(room) {
		if m.Sender == bot && m.MsgType == event.MsgNotice && strings.HasPrefix(m.FinalBody, cutNotice) {
			n++
		}
	}
	return n
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

// waves runs a cluster run's turns (cluster.go): turn k in every chat at
// once, the cluster's chaos for k once half the chats show their reply's
// first message, and the next turn once every chat's turn k ended.
func (r *run) waves(ctx context.Context, clients []*harness.UserClient, users []string, chats [][]id.RoomID) error {
	n := r.cfg.Users * r.cfg.Rooms
	for k := range r.cfg.Turns {
		// The chaos comes once the holder streams a quarter of the
		// chats' replies at once, or half the chats show their reply's
		// first message: with the homeserver's sync to the users behind
		// by tens of seconds under this load, waiting for what the users
		// see alone (or a fixed time) finds the streams ended, or none
		// begun.
		var shownCount atomic.Int64
		halfShown := make(chan struct{})
		shown := func() {
			if shownCount.Add(1) == int64((n+1)/2) {
				close(halfShown)
			}
		}
		chaos := r.cluster.chaos(k)
		chaosErr := make(chan error, 1)
		waveDone := make(chan struct{})
		streamCtx, stopWatching := context.WithCancel(ctx)
		go func() {
			defer stopWatching()
			select {
			case <-r.cluster.streaming(streamCtx, max(min(n, 2), n/4)):
			case <-halfShown:
			case <-time.After(5 * time.Minute):
			case <-waveDone:
			}
			if chaos == nil || ctx.Err() != nil {
				chaosErr <- nil
				return
			}
			// On ctx, not the wave's: the cut turns may all be told before
			// the member that took over says it is ready.
			chaosErr <- chaos(ctx)
		}()
		err := r.each(ctx, n, func(ctx context.Context, idx int) error {
			i, j := idx/r.cfg.Rooms, idx%r.cfg.Rooms
			turn, err := r.oneTurn(ctx, clients[i], users[i], chats[i][j], j, k, shown)
			if err != nil {
				return err
			}
			r.add(turn)
			return nil
		})
		close(waveDone)
		if cerr := <-chaosErr; cerr != nil && err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("turn %d: %w", k+1, err)
		}
	}
	return nil
}
