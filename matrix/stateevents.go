package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
)

// The bot's own event types on the homeserver (PRODUCT R11). Reconciliation
// trusts an event of these types only when the bot sent it, and rooms are
// created with power levels under which nobody else can.
var (
	typeChatState  = event.Type{Type: "org.surfaces.chat", Class: event.StateEventType}
	typeSpaceState = event.Type{Type: "org.surfaces.space", Class: event.StateEventType}
	// typeChatIDs is the account data holding the platform_chat_id
	// high-water mark.
	typeChatIDs = event.Type{Type: "org.surfaces.chat_ids", Class: event.AccountDataEventType}
)

// chatIDsContent is the content of typeChatIDs.
type chatIDsContent struct {
	// Reserved: no platform_chat_id above it was ever handed out.
	Reserved uint64 `json:"reserved"`
}

// botOnlyEvents are the power levels of the state the bot alone may send
// in rooms it creates: its own state events, and the usual admin state.
func botOnlyEvents() map[string]int {
	return map[string]int{
		typeChatState.Type:                100,
		typeSpaceState.Type:               100,
		event.StatePowerLevels.Type:       100,
		event.StateHistoryVisibility.Type: 100,
		event.StateEncryption.Type:        100,
		event.StateTombstone.Type:         100,
		event.StateServerACL.Type:         100,
	}
}

func ptr[T any](v T) *T { return &v }

var _ actors.StateEvents = (*Client)(nil)

// SetChatState implements actors.StateEvents.
func (c *Client) SetChatState(ctx context.Context, roomID string, st actors.ChatState) error {
	if _, err := c.cli.SendStateEvent(ctx, id.RoomID(roomID), typeChatState, "", st); err != nil {
		return fmt.Errorf("failed to write the chat state of %s: %w", roomID, err)
	}
	return nil
}

// SetSpaceState implements actors.StateEvents.
func (c *Client) SetSpaceState(ctx context.Context, spaceID string, st actors.SpaceState) error {
	if _, err := c.cli.SendStateEvent(ctx, id.RoomID(spaceID), typeSpaceState, "", st); err != nil {
		return fmt.Errorf("failed to write the Space state of %s: %w", spaceID, err)
	}
	return nil
}

// JoinedRooms implements actors.StateEvents.
func (c *Client) JoinedRooms(ctx context.Context) ([]string, error) {
	resp, err := c.cli.JoinedRooms(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to list joined rooms: %w", err)
	}
	out := make([]string, len(resp.JoinedRooms))
	for i, r := range resp.JoinedRooms {
		out[i] = r.String()
	}
	return out, nil
}

// RoomState implements actors.StateEvents: one /state request per room.
func (c *Client) RoomState(ctx context.Context, roomID string) (actors.RoomState, error) {
	var events []*event.Event
	if err := c.getJSON(ctx, c.cli.BuildClientURL("v3", "rooms", roomID, "state"), &events); err != nil {
		return actors.RoomState{}, fmt.Errorf("failed to read the state of %s: %w", roomID, err)
	}
	return c.roomState(ctx, roomID, events), nil
}

// roomState keeps what reconciliation needs of a room's state events.
func (c *Client) roomState(ctx context.Context, roomID string, events []*event.Event) actors.RoomState {
	st := actors.RoomState{Members: map[string]string{}}
	for _, evt := range events {
		if evt.StateKey == nil {
			continue
		}
		switch evt.Type.Type {
		case typeChatState.Type, typeSpaceState.Type:
			if evt.Sender != c.cli.UserID {
				st.Forged++
				zerolog.Ctx(ctx).Warn().Str("room_id", roomID).Str("sender", evt.Sender.String()).
					Str("type", evt.Type.Type).Msg("ignoring a state event of the bot's type sent by someone else")
				continue
			}
			if evt.Type.Type == typeChatState.Type {
				var chat actors.ChatState
				if json.Unmarshal(evt.Content.VeryRaw, &chat) == nil && chat.Owner != "" {
					st.Chat = &chat
				}
			} else {
				var space actors.SpaceState
				if json.Unmarshal(evt.Content.VeryRaw, &space) == nil && space.Owner != "" {
					st.Space = &space
				}
			}
		case event.StateSpaceChild.Type:
			var child struct {
				Via []string `json:"via"`
			}
			if json.Unmarshal(evt.Content.VeryRaw, &child) == nil && len(child.Via) > 0 {
				st.Children = append(st.Children, *evt.StateKey)
			}
		case event.StateMember.Type:
			var m struct {
				Membership string `json:"membership"`
			}
			if json.Unmarshal(evt.Content.VeryRaw, &m) == nil {
				st.Members[*evt.StateKey] = m.Membership
			}
		}
	}
	return st
}

// ReservedChatIDs implements actors.StateEvents.
func (c *Client) ReservedChatIDs(ctx context.Context) (uint64, error) {
	var content chatIDsContent
	err := c.cli.GetAccountData(ctx, typeChatIDs.Type, &content)
	if errors.Is(err, mautrix.MNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("failed to read the reserved platform_chat_ids: %w", err)
	}
	return content.Reserved, nil
}

// ReserveChatIDs implements actors.StateEvents.
func (c *Client) ReserveChatIDs(ctx context.Context, upTo uint64) error {
	if err := c.cli.SetAccountData(ctx, typeChatIDs.Type, chatIDsContent{Reserved: upTo}); err != nil {
		return fmt.Errorf("failed to reserve platform_chat_ids up to %d: %w", upTo, err)
	}
	return nil
}

// getJSON GETs url and decodes the response into out.
func (c *Client) getJSON(ctx context.Context, url string, out any) error {
	_, err := c.cli.MakeRequest(ctx, "GET", url, nil, out)
	return err
}
