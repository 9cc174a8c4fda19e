package harness

import (
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Message is an m.room.message as a person sees it in a client: the original
// event with its m.replace edits applied.
type Message struct {
	// EventID is the original event's ID, which edits refer to.
	EventID id.EventID
	RoomID  id.RoomID
	Sender  id.UserID
	// Timestamp is the original event's origin_server_ts.
	Timestamp time.Time

	// Body is the original body, before any edit.
	Body string
	// FinalBody, MsgType, Format and FormattedBody come from the winning
	// edit's m.new_content, or from the original when there is no edit.
	FinalBody     string
	MsgType       event.MessageType
	Format        event.Format
	FormattedBody string
	// Content is the final content (the winning m.new_content or the
	// original content).
	Content *event.MessageEventContent

	// Edits is the number of valid edits seen (same sender, m.new_content).
	Edits int
	// EditEventIDs are the edit events' IDs in arrival order.
	EditEventIDs []id.EventID
	// History is each edit's m.new_content in arrival order.
	History []event.MessageEventContent

	// RelatesTo is the original's relation (reply or thread), if any.
	RelatesTo *event.RelatesTo
	// Redacted is set when a redaction of the original was seen.
	Redacted bool
	// Encrypted is set when the original arrived encrypted (a client
	// WithCrypto decrypted it); EditsEncrypted when every edit did too.
	Encrypted, EditsEncrypted bool
	// Event is the original event.
	Event *event.Event
}

// IsEdited reports whether at least one edit was applied.
func (m Message) IsEdited() bool { return m.Edits > 0 }

// buildMessages turns recorded events into Messages. Edits follow the spec's
// validity rules (same sender, same room, target not itself an edit, has
// m.new_content); the winner is the edit with the highest origin_server_ts
// and, on equal timestamps, the one that arrived last, which is what
// matrix-js-sdk (Element) shows for edits sent within one millisecond.
func buildMessages(roomID id.RoomID, events []*event.Event) []Message {
	var order []id.EventID
	originals := map[id.EventID]*Message{}
	winners := map[id.EventID]*event.Event{}
	redacted := map[id.EventID]bool{}

	for _, evt := range events {
		if evt.Type.Type == event.EventRedaction.Type {
			redacted[redactedID(evt)] = true
			continue
		}
		content := messageContent(evt)
		if content == nil || content.RelatesTo.GetReplaceID() != "" {
			continue
		}
		msg := &Message{
			EventID:   evt.ID,
			RoomID:    roomID,
			Sender:    evt.Sender,
			Timestamp: time.UnixMilli(evt.Timestamp),
			Body:      content.Body,
			RelatesTo: content.RelatesTo,
			Event:     evt,
			Encrypted: evt.Mautrix.WasEncrypted,
		}
		msg.EditsEncrypted = msg.Encrypted
		msg.setFinal(content)
		originals[evt.ID] = msg
		order = append(order, evt.ID)
	}

	for _, evt := range events {
		content := messageContent(evt)
		if content == nil || content.NewContent == nil {
			continue
		}
		target := content.RelatesTo.GetReplaceID()
		if target == "" {
			continue
		}
		msg, ok := originals[target]
		if !ok || msg.Sender != evt.Sender {
			continue
		}
		msg.Edits++
		msg.EditsEncrypted = msg.EditsEncrypted && evt.Mautrix.WasEncrypted
		msg.EditEventIDs = append(msg.EditEventIDs, evt.ID)
		msg.History = append(msg.History, *content.NewContent)
		if best, ok := winners[target]; !ok || evt.Timestamp >= best.Timestamp {
			winners[target] = evt
			msg.setFinal(content.NewContent)
		}
	}

	out := make([]Message, 0, len(order))
	for _, eventID := range order {
		msg := originals[eventID]
		msg.Redacted = redacted[eventID]
		out = append(out, *msg)
	}
	return out
}

func (m *Message) setFinal(content *event.MessageEventContent) {
	m.Content = content
	m.FinalBody = content.Body
	m.MsgType = content.MsgType
	m.Format = content.Format
	m.FormattedBody = content.FormattedBody
}

// messageContent returns the parsed content of an m.room.message event, or
// nil for anything else.
func messageContent(evt *event.Event) *event.MessageEventContent {
	if evt.Type.Type != event.EventMessage.Type {
		return nil
	}
	content, _ := evt.Content.Parsed.(*event.MessageEventContent)
	return content
}

// redactedID finds the redacted event: in the content since room v11, at the
// top level before.
func redactedID(evt *event.Event) id.EventID {
	if content, ok := evt.Content.Parsed.(*event.RedactionEventContent); ok && content.Redacts != "" {
		return content.Redacts
	}
	return evt.Redacts
}
