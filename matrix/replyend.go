package matrix

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
)

// replyEndKey is the content key of a reply's last post: the event id of
// the user's message it answers (see actors.EndingReply). In an encrypted
// room it travels inside the ciphertext, as the rest of the content.
const replyEndKey = "org.surfaces.reply_end"

// replyEndLookback is how many of the bot's latest events ReplyEnded reads.
// A reply's last post is followed only by the notices of its turn and the
// probe: the room asks before it posts anything else.
const replyEndLookback = 20

// marked is content with the reply-end mark of ctx, if it has one.
func marked(ctx context.Context, content *event.MessageEventContent) any {
	end := actors.ReplyEndOf(ctx)
	if end == "" {
		return content
	}
	return &event.Content{Parsed: content, Raw: map[string]any{replyEndKey: end}}
}

// typeReplyCheck is the state event ReplyEnded writes before it reads: a
// probe, hidden by clients as any unknown state event is.
var typeReplyCheck = event.Type{Type: "org.surfaces.reply_check", Class: event.StateEventType}

// ReplyEnded implements actors.MatrixSender: it reads the bot's latest
// events in roomID (decrypting them in an encrypted room) for the post
// that ended its reply to eventID.
//
// A homeserver may accept a post and show it in /messages only seconds
// later (Dendrite under load: its reads lag its writes), and the post a
// stopped holder sent last can reach it after the holder died. So the bot
// first writes a probe of its own into the room and reads until the probe
// shows: every event the homeserver accepted before it shows by then, and
// not finding the mark is an answer. Until ctx ends it reads again,
// pausing 100 ms, doubling up to 2 s.
func (c *Client) ReplyEnded(ctx context.Context, roomID, eventID string) (bool, error) {
	room := id.RoomID(roomID)
	probe, err := c.cli.SendStateEvent(ctx, room, typeReplyCheck, "", map[string]any{"event_id": eventID})
	if err != nil {
		return false, fmt.Errorf("failed to write the reply check into %s: %w", roomID, err)
	}
	for pause := 100 * time.Millisecond; ; pause = min(2*pause, 2*time.Second) {
		ended, seen, err := c.replyEndedBefore(ctx, room, eventID, probe.EventID)
		if err != nil || ended || seen {
			return ended, err
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("the reply check in %s did not show in its latest events: %w", roomID, ctx.Err())
		case <-time.After(pause):
		}
	}
}

// replyEndedBefore reads the bot's latest events in room once: ended when
// one is the post that ended the reply to eventID, seen when the probe is
// among them.
func (c *Client) replyEndedBefore(ctx context.Context, room id.RoomID, eventID string, probe id.EventID) (ended, seen bool, err error) {
	bot := c.cli.UserID
	filter := &mautrix.FilterPart{Senders: []id.UserID{bot}}
	resp, err := c.cli.Messages(ctx, room, "", "", mautrix.DirectionBackward, filter, replyEndLookback)
	if err != nil {
		return false, false, fmt.Errorf("failed to read the bot's latest events in %s: %w", room, err)
	}
	for _, evt := range resp.Chunk {
		if evt.Sender != bot {
			continue // a homeserver that ignores the filter
		}
		if evt.ID == probe {
			seen = true
			continue
		}
		evt.RoomID = room
		if evt.Type == event.EventEncrypted {
			evt = c.decryptOwn(ctx, evt)
		}
		if evt.Type != event.EventMessage {
			continue
		}
		if end, _ := evt.Content.Raw[replyEndKey].(string); end == eventID {
			return true, seen, nil
		}
	}
	return false, seen, nil
}

// decryptOwn decrypts an event the bot sent (it keeps the keys of its own
// sessions), or returns it as it is when it cannot.
func (c *Client) decryptOwn(ctx context.Context, evt *event.Event) *event.Event {
	if c.crypto == nil {
		return evt
	}
	if err := evt.Content.ParseRaw(evt.Type); err != nil {
		return evt
	}
	decrypted, err := c.crypto.Decrypt(ctx, evt)
	if err != nil {
		zerolog.Ctx(ctx).Debug().Err(err).Str("event_id", evt.ID.String()).Msg("failed to decrypt one of the bot's own events")
		return evt
	}
	return decrypted
}
