package matrix

import (
	"context"
	"fmt"

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
// A reply's last post is followed only by the notices of its turn: the
// room asks before it posts anything else.
const replyEndLookback = 20

// marked is content with the reply-end mark of ctx, if it has one.
func marked(ctx context.Context, content *event.MessageEventContent) any {
	end := actors.ReplyEndOf(ctx)
	if end == "" {
		return content
	}
	return &event.Content{Parsed: content, Raw: map[string]any{replyEndKey: end}}
}

// ReplyEnded implements actors.MatrixSender: it reads the bot's latest
// events in roomID (decrypting them in an encrypted room) for the post
// that ended its reply to eventID.
func (c *Client) ReplyEnded(ctx context.Context, roomID, eventID string) (bool, error) {
	bot := c.cli.UserID
	filter := &mautrix.FilterPart{Senders: []id.UserID{bot}}
	resp, err := c.cli.Messages(ctx, id.RoomID(roomID), "", "", mautrix.DirectionBackward, filter, replyEndLookback)
	if err != nil {
		return false, fmt.Errorf("failed to read the bot's latest events in %s: %w", roomID, err)
	}
	for _, evt := range resp.Chunk {
		if evt.Sender != bot {
			continue // a homeserver that ignores the filter
		}
		evt.RoomID = id.RoomID(roomID)
		if evt.Type == event.EventEncrypted {
			evt = c.decryptOwn(ctx, evt)
		}
		if evt.Type != event.EventMessage {
			continue
		}
		if end, _ := evt.Content.Raw[replyEndKey].(string); end == eventID {
			return true, nil
		}
	}
	return false, nil
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
