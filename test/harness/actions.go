package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// SendText sends a plain m.text message, as typed in a client.
//
// Dendrite can refuse a member as "not in room" just after its join came
// down this client's sync (its sync stream runs ahead of the state it
// checks a send against; two cold runs met it, once in a load run's burst,
// once in the crash test's first message). A person typing would not send
// that fast; SendText tries such a refusal again for up to notInRoomWait.
func (u *UserClient) SendText(ctx context.Context, roomID id.RoomID, text string) (id.EventID, error) {
	deadline := time.Now().Add(notInRoomWait)
	for pause := 50 * time.Millisecond; ; pause = min(2*pause, time.Second) {
		resp, err := u.cli.SendText(ctx, roomID, text)
		if err == nil {
			return resp.EventID, nil
		}
		membership := u.membership(roomID)
		if membership == event.MembershipJoin && isNotInRoom(err) && time.Now().Add(pause).Before(deadline) {
			select {
			case <-time.After(pause):
				continue
			case <-ctx.Done():
			}
		}
		// What this client's sync had seen tells a homeserver that refuses a
		// member from a test that sent too early.
		return "", fmt.Errorf("failed to send a message to %s as %s (membership seen by sync: %q): %w",
			roomID, u.cli.UserID, membership, err)
	}
}

// notInRoomWait bounds SendText's tries of a send refused as not in room.
const notInRoomWait = 10 * time.Second

// isNotInRoom reports a send refused because the sender is not in the room.
func isNotInRoom(err error) bool {
	return errors.Is(err, mautrix.MForbidden) && strings.Contains(err.Error(), "not in room")
}

// React reacts to eventID with key (an m.annotation), as tapping a reaction
// in a client does.
func (u *UserClient) React(ctx context.Context, roomID id.RoomID, eventID id.EventID, key string) (id.EventID, error) {
	resp, err := u.cli.SendReaction(ctx, roomID, eventID, key)
	if err != nil {
		return "", fmt.Errorf("failed to react to %s in %s as %s: %w", eventID, roomID, u.cli.UserID, err)
	}
	return resp.EventID, nil
}

// EditText replaces the text of one of the user's messages with an m.replace
// edit, the way clients edit (fallback body "* text", m.new_content).
func (u *UserClient) EditText(ctx context.Context, roomID id.RoomID, original id.EventID, text string) (id.EventID, error) {
	if original == "" {
		return "", errors.New("failed to edit: no original event ID")
	}
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: text}
	content.SetEdit(original)
	resp, err := u.cli.SendMessageEvent(ctx, roomID, event.EventMessage, content)
	if err != nil {
		return "", fmt.Errorf("failed to edit %s in %s as %s: %w", original, roomID, u.cli.UserID, err)
	}
	return resp.EventID, nil
}

// CreateDM creates a direct chat with other the way Element does: a
// trusted_private_chat room with is_direct, inviting other, and the room added
// to the user's m.direct account data.
func (u *UserClient) CreateDM(ctx context.Context, other id.UserID) (id.RoomID, error) {
	if other == "" {
		return "", errors.New("failed to create a DM: no user to invite")
	}
	req := &mautrix.ReqCreateRoom{
		Preset:   "trusted_private_chat",
		IsDirect: true,
		Invite:   []id.UserID{other},
	}
	if u.crypto != nil {
		// Element encrypts new DMs.
		req.InitialState = append(req.InitialState, &event.Event{
			Type: event.StateEncryption, StateKey: new(string),
			Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		})
	}
	resp, err := u.cli.CreateRoom(ctx, req)
	if err != nil {
		return "", fmt.Errorf("failed to create a DM with %s as %s: %w", other, u.cli.UserID, err)
	}
	direct := map[id.UserID][]id.RoomID{}
	if err := u.cli.GetAccountData(ctx, event.AccountDataDirectChats.Type, &direct); err != nil && !errors.Is(err, mautrix.MNotFound) {
		return "", fmt.Errorf("failed to read m.direct as %s: %w", u.cli.UserID, err)
	}
	if !slices.Contains(direct[other], resp.RoomID) {
		direct[other] = append(direct[other], resp.RoomID)
	}
	if err := u.cli.SetAccountData(ctx, event.AccountDataDirectChats.Type, direct); err != nil {
		return "", fmt.Errorf("failed to write m.direct as %s: %w", u.cli.UserID, err)
	}
	return resp.RoomID, nil
}

// CreateSpace creates a private Space (a room whose m.room.create has type
// m.space) named name, inviting invite.
func (u *UserClient) CreateSpace(ctx context.Context, name string, invite ...id.UserID) (id.RoomID, error) {
	resp, err := u.cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Name:            name,
		Preset:          "private_chat",
		Invite:          invite,
		CreationContent: map[string]any{"type": event.RoomTypeSpace},
	})
	if err != nil {
		return "", fmt.Errorf("failed to create the space %q as %s: %w", name, u.cli.UserID, err)
	}
	return resp.RoomID, nil
}

// AddSpaceChild links child into space with an m.space.child state event
// whose via is this user's server.
func (u *UserClient) AddSpaceChild(ctx context.Context, space, child id.RoomID) error {
	via := []string{u.cli.UserID.Homeserver()}
	_, err := u.cli.SendStateEvent(ctx, space, event.StateSpaceChild, child.String(), &event.SpaceChildEventContent{Via: via})
	if err != nil {
		return fmt.Errorf("failed to add %s to the space %s: %w", child, space, err)
	}
	return nil
}

// SpaceChild is a child room of a Space as the room hierarchy reports it.
type SpaceChild struct {
	RoomID   id.RoomID
	Name     string
	Topic    string
	RoomType event.RoomType
	// JoinedMembers is the number of joined members the server reports.
	JoinedMembers int
	// Via are the servers in the parent's m.space.child event.
	Via []string
}

// SpaceChildren lists the direct children of a Space with
// GET /_matrix/client/v1/rooms/{space}/hierarchy (max_depth 1), in the order
// of the space's m.space.child events. Like in Element, only children the user
// may see appear: joined or invited rooms, or public/world-readable ones.
func (u *UserClient) SpaceChildren(ctx context.Context, space id.RoomID) ([]SpaceChild, error) {
	depth := 1
	req := &mautrix.ReqHierarchy{MaxDepth: &depth, Limit: 100}
	var rooms []*mautrix.ChildRoomsChunk
	for {
		resp, err := u.cli.Hierarchy(ctx, space, req)
		if err != nil {
			return nil, fmt.Errorf("failed to get the hierarchy of %s as %s: %w", space, u.cli.UserID, err)
		}
		rooms = append(rooms, resp.Rooms...)
		if resp.NextBatch == "" || resp.NextBatch == req.From {
			break
		}
		req.From = resp.NextBatch
	}
	byID := map[id.RoomID]*mautrix.ChildRoomsChunk{}
	var links []*event.Event
	for _, room := range rooms {
		byID[room.RoomID] = room
		if room.RoomID == space {
			links = room.ChildrenState
		}
	}
	var out []SpaceChild
	for _, link := range links {
		childID := id.RoomID(link.GetStateKey())
		room, ok := byID[childID]
		if !ok || childID == space {
			continue
		}
		// Hierarchy events arrive unparsed; a parse error only loses Via.
		var content event.SpaceChildEventContent
		_ = link.Content.ParseRaw(event.StateSpaceChild)
		if parsed, ok := link.Content.Parsed.(*event.SpaceChildEventContent); ok {
			content = *parsed
		}
		out = append(out, SpaceChild{
			RoomID:        childID,
			Name:          room.Name,
			Topic:         room.Topic,
			RoomType:      room.RoomType,
			JoinedMembers: room.NumJoinedMembers,
			Via:           content.Via,
		})
	}
	return out, nil
}

// RoomState fetches the room's current state from the server (not from the
// sync record), e.g. to check names, topics and power levels.
func (u *UserClient) RoomState(ctx context.Context, roomID id.RoomID) (mautrix.RoomStateMap, error) {
	state, err := u.cli.State(ctx, roomID)
	if err != nil {
		return nil, fmt.Errorf("failed to get the state of %s as %s: %w", roomID, u.cli.UserID, err)
	}
	return state, nil
}
