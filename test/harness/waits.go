package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// wait re-runs check after every recorded change until it reports done or an
// error, ctx ends, or the sync loop stops. check must take u.mu itself and
// must not call user code while holding it.
func (u *UserClient) wait(ctx context.Context, what string, check func() (bool, error)) error {
	for {
		u.mu.Lock()
		changed := u.changed
		u.mu.Unlock()
		// Taking the channel before checking means a change that happens
		// during check closes this channel, so no wake-up is lost.
		done, err := check()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("failed to see %s as %s: %w", what, u.cli.UserID, ctx.Err())
		case <-u.done:
			u.mu.Lock()
			err := u.loopErr
			u.mu.Unlock()
			// One last check: the final sync may have brought the answer.
			if done, cerr := check(); cerr == nil && done {
				return nil
			}
			return fmt.Errorf("failed to see %s as %s: sync loop stopped: %w", what, u.cli.UserID, err)
		}
	}
}

// Invites returns copies of the invites received so far, oldest first.
func (u *UserClient) Invites() []Invite {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]Invite, 0, len(u.invites))
	for _, inv := range u.invites {
		out = append(out, *inv)
	}
	return out
}

// WaitInvite waits for an invite matching pred (nil matches any), including
// invites received before the call, and returns a copy of it.
func (u *UserClient) WaitInvite(ctx context.Context, pred func(Invite) bool) (Invite, error) {
	var found Invite
	err := u.wait(ctx, "an invite", func() (bool, error) {
		for _, inv := range u.Invites() {
			if pred == nil || pred(inv) {
				found = inv
				return true, nil
			}
		}
		return false, nil
	})
	return found, err
}

// Events returns the events recorded in a room so far (timeline and state
// sections of sync, in arrival order). The events are shared: do not modify.
func (u *UserClient) Events(roomID id.RoomID) []*event.Event {
	u.mu.Lock()
	defer u.mu.Unlock()
	room, ok := u.rooms[roomID]
	if !ok {
		return nil
	}
	return append([]*event.Event(nil), room.events...)
}

// WaitEvent waits for an event in roomID matching pred (nil matches any),
// including events recorded before the call.
func (u *UserClient) WaitEvent(ctx context.Context, roomID id.RoomID, pred func(*event.Event) bool) (*event.Event, error) {
	var found *event.Event
	next := 0
	err := u.wait(ctx, "an event in "+roomID.String(), func() (bool, error) {
		events := u.Events(roomID)
		for ; next < len(events); next++ {
			if pred == nil || pred(events[next]) {
				found = events[next]
				return true, nil
			}
		}
		return false, nil
	})
	return found, err
}

// ArrivedAfter reports whether the event then arrived after first in
// roomID's timeline, as this client received them (false while either is
// missing): a reply is only a reply when it came after the message.
func (u *UserClient) ArrivedAfter(roomID id.RoomID, first, then id.EventID) bool {
	seen := false
	for _, e := range u.Events(roomID) {
		switch e.ID {
		case first:
			seen = true
		case then:
			return seen
		}
	}
	return false
}

// Messages returns the room's messages so far with edits applied, in the
// order their original events arrived.
func (u *UserClient) Messages(roomID id.RoomID) []Message {
	return buildMessages(roomID, u.Events(roomID))
}

// WaitMessage waits until a message in roomID, with the edits seen so far
// applied, matches pred (nil matches any), and returns it. Messages are
// re-evaluated on every sync, so a predicate on FinalBody waits for the edit
// that completes a streamed reply.
func (u *UserClient) WaitMessage(ctx context.Context, roomID id.RoomID, pred func(Message) bool) (Message, error) {
	var found Message
	err := u.wait(ctx, "a message in "+roomID.String(), func() (bool, error) {
		for _, msg := range u.Messages(roomID) {
			if pred == nil || pred(msg) {
				found = msg
				return true, nil
			}
		}
		return false, nil
	})
	return found, err
}

// WaitJoined waits until the user is joined to roomID according to sync,
// which is when the room's timeline starts being recorded.
func (u *UserClient) WaitJoined(ctx context.Context, roomID id.RoomID) error {
	return u.wait(ctx, "a join to "+roomID.String(), func() (bool, error) {
		u.mu.Lock()
		defer u.mu.Unlock()
		for _, inv := range u.invites {
			if inv.RoomID == roomID && !inv.Joined && inv.JoinErr != nil {
				return false, inv.JoinErr
			}
		}
		room, ok := u.rooms[roomID]
		return ok && room.membership == event.MembershipJoin, nil
	})
}

// Typing returns every m.typing update seen in the room, oldest first; each
// is the full list of users typing at that moment.
func (u *UserClient) Typing(roomID id.RoomID) [][]id.UserID {
	u.mu.Lock()
	defer u.mu.Unlock()
	room, ok := u.rooms[roomID]
	if !ok {
		return nil
	}
	out := make([][]id.UserID, len(room.typing))
	for i, users := range room.typing {
		out[i] = append([]id.UserID(nil), users...)
	}
	return out
}

// WaitTyping waits for an m.typing update in roomID whose user list matches
// pred, including updates seen before the call. Typing is ephemeral: a short
// burst between two syncs can be merged away by the server, so tests should
// not depend on seeing every change.
func (u *UserClient) WaitTyping(ctx context.Context, roomID id.RoomID, pred func([]id.UserID) bool) ([]id.UserID, error) {
	if pred == nil {
		return nil, errors.New("failed to wait for typing: nil predicate")
	}
	var found []id.UserID
	err := u.wait(ctx, "a typing update in "+roomID.String(), func() (bool, error) {
		for _, users := range u.Typing(roomID) {
			if pred(users) {
				found = users
				return true, nil
			}
		}
		return false, nil
	})
	return found, err
}

// Receipts returns the m.read receipts seen in roomID, oldest first.
func (u *UserClient) Receipts(roomID id.RoomID) []Receipt {
	u.mu.Lock()
	defer u.mu.Unlock()
	room, ok := u.rooms[roomID]
	if !ok {
		return nil
	}
	return append([]Receipt(nil), room.receipts...)
}

// WaitReceipt waits until user has an m.read receipt on eventID in roomID,
// including receipts seen before the call.
func (u *UserClient) WaitReceipt(ctx context.Context, roomID id.RoomID, user id.UserID, eventID id.EventID) error {
	return u.wait(ctx, "a read receipt of "+user.String()+" on "+eventID.String(), func() (bool, error) {
		return slices.Contains(u.Receipts(roomID), Receipt{EventID: eventID, UserID: user}), nil
	})
}
