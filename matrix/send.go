package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/event/cmdschema"
	"maunium.net/go/mautrix/format"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
)

// maxEventBytes keeps a margin under the spec's 65,536-byte limit for the
// whole event (signatures, unsigned data and ids are added by the server).
const maxEventBytes = 60 * 1024

// render turns Markdown into a message content: body keeps the plain text,
// formatted_body the sanitised HTML (raw HTML in the input is escaped).
func render(msgType event.MessageType, markdown string) (content *event.MessageEventContent) {
	defer func() {
		// format panics if its Markdown renderer errors; bad input must
		// never take the bot down, so such a message goes out unformatted.
		if recover() != nil {
			content = &event.MessageEventContent{MsgType: msgType, Body: markdown}
		}
	}()
	rendered := format.RenderMarkdown(markdown, true, false)
	rendered.FormattedBody = sanitizeHTML(rendered.FormattedBody)
	content = &rendered
	content.MsgType = msgType
	content.Body = markdown
	return content
}

// fit shrinks a content that is too large for one event, in steps that
// lose the least first: the fallback's HTML, then the new content's HTML,
// then most of an edit's fallback body (clients that apply edits never show
// it). The actors split long replies, so this only triggers on pathological
// text, e.g. thousands of "<" that JSON-escape to six bytes each.
func fit(content *event.MessageEventContent) error {
	steps := []func(){
		func() { content.Format, content.FormattedBody = "", "" },
		func() {
			if content.NewContent != nil {
				content.NewContent.Format, content.NewContent.FormattedBody = "", ""
			}
		},
		func() {
			if content.NewContent != nil && len(content.Body) > 64 {
				content.Body = strings.ToValidUTF8(content.Body[:64], "") + "…"
			}
		},
	}
	for i := 0; ; i++ {
		raw, err := json.Marshal(content)
		if err != nil {
			return fmt.Errorf("failed to encode message: %w", err)
		}
		if len(raw) <= maxEventBytes {
			return nil
		}
		if i == len(steps) {
			return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(raw))
		}
		steps[i]()
	}
}

func (c *Client) send(ctx context.Context, roomID string, content *event.MessageEventContent) (string, error) {
	if err := fit(content); err != nil {
		return "", err
	}
	resp, err := c.cli.SendMessageEvent(ctx, id.RoomID(roomID), event.EventMessage, marked(ctx, content))
	if err != nil {
		return "", fmt.Errorf("failed to send to %s: %w", roomID, err)
	}
	return resp.EventID.String(), nil
}

// SendNotice implements actors.MatrixSender.
func (c *Client) SendNotice(ctx context.Context, roomID, text string) (string, error) {
	return c.send(ctx, roomID, render(event.MsgNotice, text))
}

// SendText implements actors.MatrixSender.
func (c *Client) SendText(ctx context.Context, roomID, markdown string) (string, error) {
	return c.send(ctx, roomID, render(event.MsgText, markdown))
}

// EditText implements actors.MatrixSender: an m.replace whose m.new_content
// is the whole new reply, with the customary "* " fallback body.
func (c *Client) EditText(ctx context.Context, roomID, eventID, markdown string) error {
	content := render(event.MsgText, markdown)
	content.SetEdit(id.EventID(eventID))
	_, err := c.send(ctx, roomID, content)
	return err
}

// SetTyping implements actors.MatrixSender.
// Typing going on is a courtesy (see courtesyGate): one attempt, skipped
// while the homeserver rate-limits it; going off goes out wherever it is
// on.
func (c *Client) SetTyping(ctx context.Context, roomID string, typing bool, timeout time.Duration) error {
	if typing {
		if !c.courtesy.open() {
			return nil
		}
		ctx = once(ctx)
	} else if !c.courtesy.typingOff(roomID) {
		return nil
	}
	_, err := c.cli.UserTyping(ctx, id.RoomID(roomID), typing, timeout)
	if typing {
		c.courtesy.saw(err)
		if err == nil {
			c.courtesy.typingOn(roomID)
		}
	}
	if err != nil {
		return fmt.Errorf("failed to set typing in %s: %w", roomID, err)
	}
	return nil
}

// SendReaction implements actors.MatrixSender.
func (c *Client) SendReaction(ctx context.Context, roomID, eventID, key string) error {
	if _, err := c.cli.SendReaction(ctx, id.RoomID(roomID), id.EventID(eventID), key); err != nil {
		return fmt.Errorf("failed to react to %s in %s: %w", eventID, roomID, err)
	}
	return nil
}

// MarkRead implements actors.MatrixSender.
// A receipt is a courtesy (see courtesyGate): one attempt, skipped while
// the homeserver rate-limits receipts; the next one covers this one.
func (c *Client) MarkRead(ctx context.Context, roomID, eventID string) error {
	if !c.courtesy.open() {
		return nil
	}
	err := c.cli.MarkRead(once(ctx), id.RoomID(roomID), id.EventID(eventID))
	c.courtesy.saw(err)
	if err != nil {
		return fmt.Errorf("failed to mark %s read in %s: %w", eventID, roomID, err)
	}
	return nil
}

// SetCommands implements actors.MatrixRooms: one MSC4391 command
// description state event per command, keyed as the MSC asks (a hash of the
// command and the bot's id), so a later set replaces an earlier one.
func (c *Client) SetCommands(ctx context.Context, roomID string, cmds []actors.CommandDescription) error {
	for _, ev := range c.commandEvents(cmds) {
		if _, err := c.cli.SendStateEvent(ctx, id.RoomID(roomID), ev.Type, *ev.StateKey, ev.Content.Parsed); err != nil {
			return fmt.Errorf("failed to describe !%s in %s: %w", ev.Content.Parsed.(*cmdschema.EventContent).Command, roomID, err)
		}
	}
	return nil
}

// commandEvents are the MSC4391 state events describing cmds, for
// SetCommands and for a new room's initial state.
func (c *Client) commandEvents(cmds []actors.CommandDescription) []*event.Event {
	out := make([]*event.Event, 0, len(cmds))
	for _, cmd := range cmds {
		content := &cmdschema.EventContent{Command: cmd.Command, Aliases: cmd.Aliases,
			Description: event.MakeExtensibleText(cmd.Description)}
		for i, p := range cmd.Params {
			content.Parameters = append(content.Parameters, &cmdschema.Parameter{
				Key: p.Key, Optional: p.Optional, Description: event.MakeExtensibleText(p.Description),
				Schema: &cmdschema.ParameterSchema{SchemaType: cmdschema.SchemaTypePrimitive, Type: cmdschema.PrimitiveTypeString},
			})
			if i == len(cmd.Params)-1 {
				content.TailParam = p.Key // the last parameter takes the rest of the line
			}
		}
		out = append(out, &event.Event{Type: event.StateMSC4391BotCommand, StateKey: ptr(content.StateKey(c.cli.UserID)),
			Content: event.Content{Parsed: content}})
	}
	return out
}

// JoinRoom implements actors.MatrixRooms.
func (c *Client) JoinRoom(ctx context.Context, roomID string) error {
	if err := JoinInvited(ctx, c.cli, id.RoomID(roomID)); err != nil {
		return fmt.Errorf("failed to join %s: %w", roomID, err)
	}
	return nil
}

// JoinInvited joins a room cli was invited to. Dendrite tells a client of
// an invite before its roomserver holds the invite as room state, so a join
// sent at once can be refused as not allowed ("InputWasRejected"; seen on
// Dendrite on PostgreSQL, where it left a new user without their Space).
// That refusal is tried again (untilAccepted); any other error is returned
// at once.
//
// A join Dendrite could not finish within 20 s is answered 202 ("The room
// join will continue in the background."), with no room id: mautrix then
// fails recording it, and a bot under load (200 users onboarding at once)
// left those users without a Space. JoinInvited then waits until the
// membership shows the join (joinWait), as a person's client would.
func JoinInvited(ctx context.Context, cli *mautrix.Client, roomID id.RoomID) error {
	return untilAccepted(ctx, joinNotHeldYet, func() error { return joinOnce(ctx, cli, roomID) })
}

// joinWait bounds the wait for a join the homeserver continues in the
// background, and joinPoll is how often the membership is read meanwhile.
// Variables for tests.
var (
	joinWait = 2 * time.Minute
	joinPoll = 500 * time.Millisecond
)

// joinOnce sends one join; on a 202 it waits for the membership to show it.
func joinOnce(ctx context.Context, cli *mautrix.Client, roomID id.RoomID) error {
	var resp mautrix.RespJoinRoom
	_, httpResp, err := cli.MakeFullRequestWithResp(ctx, mautrix.FullRequest{
		Method: http.MethodPost, URL: cli.BuildClientURL("v3", "rooms", roomID, "join"), ResponseJSON: &resp,
	})
	if err != nil {
		return err
	}
	if httpResp != nil && httpResp.StatusCode == http.StatusAccepted {
		zerolog.Ctx(ctx).Warn().Stringer("room_id", roomID).Msg("the homeserver continues the join in the background; waiting for it")
		if err := waitJoined(ctx, cli, roomID); err != nil {
			return err
		}
	}
	if cli.StateStore != nil {
		if err := cli.StateStore.SetMembership(ctx, roomID, cli.UserID, event.MembershipJoin); err != nil {
			return fmt.Errorf("failed to record the join of %s: %w", roomID, err)
		}
	}
	return nil
}

// waitJoined reads cli's membership of roomID every joinPoll until it is
// a join, for at most joinWait.
func waitJoined(ctx context.Context, cli *mautrix.Client, roomID id.RoomID) error {
	ctx, cancel := context.WithTimeout(ctx, joinWait)
	defer cancel()
	for {
		var member event.MemberEventContent
		err := cli.StateEvent(ctx, roomID, event.StateMember, cli.UserID.String(), &member)
		if err == nil && member.Membership == event.MembershipJoin {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the homeserver did not finish joining %s within %v (last read: %v, %q): %w",
				roomID, joinWait, err, member.Membership, ctx.Err())
		case <-time.After(joinPoll):
		}
	}
}

// RejectInvite implements actors.MatrixRooms.
// Like a join, a decline Dendrite refuses for want of the invite is tried
// again (untilAccepted).
func (c *Client) RejectInvite(ctx context.Context, roomID, reason string) error {
	err := untilAccepted(ctx, declineNotHeldYet, func() error {
		_, err := c.cli.LeaveRoom(ctx, id.RoomID(roomID), &mautrix.ReqLeave{Reason: reason})
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to decline the invite to %s: %w", roomID, err)
	}
	return nil
}

// LeaveRoom implements actors.MatrixRooms.
func (c *Client) LeaveRoom(ctx context.Context, roomID string) error {
	if _, err := c.cli.LeaveRoom(ctx, id.RoomID(roomID)); err != nil {
		return fmt.Errorf("failed to leave %s: %w", roomID, err)
	}
	return nil
}

// ForgetRoom forgets a room the bot has left, so that it drops out of the
// account's room list (`surfaces reset --mode server-leave-forget`).
func (c *Client) ForgetRoom(ctx context.Context, roomID string) error {
	if _, err := c.cli.ForgetRoom(ctx, id.RoomID(roomID)); err != nil {
		return fmt.Errorf("failed to forget %s: %w", roomID, err)
	}
	return nil
}

// CreateSpace implements actors.MatrixRooms. Only the bot may change the
// Space's children (events_default 50 with the bot at 100).
func (c *Client) CreateSpace(ctx context.Context, name string, invite []string, st actors.SpaceState) (string, error) {
	resp, err := c.cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Name:            name,
		Preset:          "private_chat",
		Invite:          userIDs(invite),
		CreationContent: map[string]any{"type": "m.space"},
		PowerLevelOverride: &event.PowerLevelsEventContent{
			Users:         map[id.UserID]int{c.cli.UserID: 100},
			EventsDefault: 50,
			Events:        botOnlyEvents(),
		},
		InitialState: []*event.Event{{Type: typeSpaceState, StateKey: ptr(""), Content: event.Content{Parsed: st}}},
	})
	if err != nil {
		return "", fmt.Errorf("failed to create Space %q: %w", name, err)
	}
	return resp.RoomID.String(), nil
}

// CreateChatRoom implements actors.MatrixRooms: the room names the Space as
// its canonical m.space.parent from creation on, then the Space lists it as
// an m.space.child. The command descriptions go in the initial state: one
// request instead of one a command (17), which on a busy homeserver took
// seconds a room before its welcome could go out.
func (c *Client) CreateChatRoom(ctx context.Context, spaceID, name string, invite []string, st actors.ChatState, cmds []actors.CommandDescription) (string, error) {
	via := []string{c.server}
	req := &mautrix.ReqCreateRoom{
		Name:   name,
		Preset: "private_chat",
		Invite: userIDs(invite),
		PowerLevelOverride: &event.PowerLevelsEventContent{
			Users:  map[id.UserID]int{c.cli.UserID: 100},
			Events: botOnlyEvents(),
		},
		InitialState: []*event.Event{{
			Type:     event.StateSpaceParent,
			StateKey: &spaceID,
			Content:  event.Content{Parsed: &event.SpaceParentEventContent{Via: via, Canonical: true}},
		}, {
			Type: typeChatState, StateKey: ptr(""), Content: event.Content{Parsed: st},
		}},
	}
	if c.crypto != nil && c.crypto.policy == EncryptionDefault {
		// Encrypted from the first event on (PRODUCT R10.2); with the state
		// store set, mautrix records it at creation, so the first notice
		// is encrypted already.
		req.InitialState = append(req.InitialState, &event.Event{
			Type: event.StateEncryption, StateKey: ptr(""),
			Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		})
	}
	req.InitialState = append(req.InitialState, c.commandEvents(cmds)...)
	resp, err := c.cli.CreateRoom(ctx, req)
	if err != nil {
		return "", fmt.Errorf("failed to create room %q: %w", name, err)
	}
	roomID := resp.RoomID.String()
	return roomID, c.AddToSpace(ctx, spaceID, roomID)
}

// AddToSpace implements actors.MatrixRooms.
func (c *Client) AddToSpace(ctx context.Context, spaceID, roomID string) error {
	if _, err := c.cli.SendStateEvent(ctx, id.RoomID(spaceID), event.StateSpaceChild, roomID,
		&event.SpaceChildEventContent{Via: []string{c.server}}); err != nil {
		return fmt.Errorf("failed to add %s to Space %s: %w", roomID, spaceID, err)
	}
	return nil
}

// Invite implements actors.MatrixRooms. A user already in the room is
// not an error: what the invite is for holds. The bot re-invites on every
// !new (the user may have left the Space), and Dendrite and Synapse refuse
// a member's invite with M_FORBIDDEN ("user is already joined to room",
// "… is already in the room"); each was a warning in the log.
func (c *Client) Invite(ctx context.Context, roomID, userID string) error {
	if _, err := c.cli.InviteUser(ctx, id.RoomID(roomID), &mautrix.ReqInviteUser{UserID: id.UserID(userID)}); err != nil {
		if alreadyInRoom(err) {
			return nil
		}
		return fmt.Errorf("failed to invite %s to %s: %w", userID, roomID, err)
	}
	return nil
}

// alreadyInRoom reports an invite refused because its user is a member.
func alreadyInRoom(err error) bool {
	msg := strings.ToLower(err.Error())
	return errors.Is(err, mautrix.MForbidden) && (strings.Contains(msg, "already joined") || strings.Contains(msg, "already in the room"))
}

// SetRoomName implements actors.MatrixRooms.
func (c *Client) SetRoomName(ctx context.Context, roomID, name string) error {
	if _, err := c.cli.SendStateEvent(ctx, id.RoomID(roomID), event.StateRoomName, "",
		&event.RoomNameEventContent{Name: name}); err != nil {
		return fmt.Errorf("failed to rename %s: %w", roomID, err)
	}
	return nil
}

// RemoveFromSpace implements actors.MatrixRooms: an empty m.space.child
// content removes the child.
func (c *Client) RemoveFromSpace(ctx context.Context, spaceID, roomID string) error {
	if _, err := c.cli.SendStateEvent(ctx, id.RoomID(spaceID), event.StateSpaceChild, roomID, map[string]any{}); err != nil {
		return fmt.Errorf("failed to remove %s from Space %s: %w", roomID, spaceID, err)
	}
	return nil
}

// SetDisplayName sets the bot's own display name.
func (c *Client) SetDisplayName(ctx context.Context, name string) error {
	if err := c.cli.SetDisplayName(ctx, name); err != nil {
		return fmt.Errorf("failed to set the display name: %w", err)
	}
	return nil
}

// DisplayName implements actors.MatrixRooms.
func (c *Client) DisplayName(ctx context.Context, userID string) (string, error) {
	resp, err := c.cli.GetDisplayName(ctx, id.UserID(userID))
	if err != nil || resp.DisplayName == "" {
		return userID, err
	}
	return resp.DisplayName, nil
}

func userIDs(ids []string) []id.UserID {
	out := make([]id.UserID, len(ids))
	for i, s := range ids {
		out[i] = id.UserID(s)
	}
	return out
}
