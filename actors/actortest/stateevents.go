package actortest

import (
	"context"
	"slices"

	"github.com/surfaces-bot/surfaces/actors"
)

// The fake keeps the homeserver's side of the truth (PRODUCT R11): the bot's
// state events, Space children and memberships of every room it created or
// was given with SetRoomState, and the account data's platform_chat_id mark.
// Rooms the fake created are joined by the bot. Reads (JoinedRooms,
// RoomState, ReservedChatIDs) are not recorded as calls, only writes, but
// Fail works on them too.

// roomLocked returns roomID's state, creating it; m.mu is held.
func (m *Matrix) roomLocked(roomID string) *actors.RoomState {
	if m.rooms == nil {
		m.rooms = map[string]*actors.RoomState{}
	}
	r, ok := m.rooms[roomID]
	if !ok {
		r = &actors.RoomState{Members: map[string]string{}}
		m.rooms[roomID] = r
	}
	return r
}

// SetRoomState makes the bot joined to roomID with st as its state, for
// tests of what reconciliation finds on a homeserver.
func (m *Matrix) SetRoomState(roomID string, st actors.RoomState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st.Members == nil {
		st.Members = map[string]string{}
	}
	m.roomLocked(roomID)
	m.rooms[roomID] = &st
}

// State returns a copy of roomID's state as the fake holds it.
func (m *Matrix) State(roomID string) (actors.RoomState, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rooms[roomID]
	if !ok {
		return actors.RoomState{}, false
	}
	return copyState(*r), true
}

// Reserved is the platform_chat_id mark in the fake's account data.
func (m *Matrix) Reserved() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reserved
}

func copyState(r actors.RoomState) actors.RoomState {
	if r.Chat != nil {
		c := *r.Chat
		r.Chat = &c
	}
	if r.Space != nil {
		s := *r.Space
		r.Space = &s
	}
	r.Children = slices.Clone(r.Children)
	members := make(map[string]string, len(r.Members))
	for k, v := range r.Members {
		members[k] = v
	}
	r.Members = members
	return r
}

// SetChatState implements actors.StateEvents.
func (m *Matrix) SetChatState(ctx context.Context, roomID string, st actors.ChatState) error {
	if _, err := m.record(ctx, Call{Method: "SetChatState", RoomID: roomID, Text: st.PlatformChatID}); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roomLocked(roomID).Chat = &st
	return nil
}

// SetSpaceState implements actors.StateEvents.
func (m *Matrix) SetSpaceState(ctx context.Context, spaceID string, st actors.SpaceState) error {
	if _, err := m.record(ctx, Call{Method: "SetSpaceState", RoomID: spaceID, Text: st.Owner}); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roomLocked(spaceID).Space = &st
	return nil
}

// JoinedRooms implements actors.StateEvents: every room the fake knows, sorted.
func (m *Matrix) JoinedRooms(ctx context.Context) ([]string, error) {
	if err := m.failure(ctx, "JoinedRooms"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.rooms))
	for id := range m.rooms {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// RoomState implements actors.StateEvents.
func (m *Matrix) RoomState(ctx context.Context, roomID string) (actors.RoomState, error) {
	if err := m.failure(ctx, "RoomState"); err != nil {
		return actors.RoomState{}, err
	}
	m.mu.Lock()
	m.stateReads = append(m.stateReads, roomID)
	m.mu.Unlock()
	st, _ := m.State(roomID)
	return st, nil
}

// StateReads returns the rooms whose state RoomState read, sorted, once
// for each read.
func (m *Matrix) StateReads() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(slices.Values(m.stateReads))
}

// ReservedChatIDs implements actors.StateEvents.
func (m *Matrix) ReservedChatIDs(ctx context.Context) (uint64, error) {
	if err := m.failure(ctx, "ReservedChatIDs"); err != nil {
		return 0, err
	}
	return m.Reserved(), nil
}

// ReserveChatIDs implements actors.StateEvents.
func (m *Matrix) ReserveChatIDs(ctx context.Context, upTo uint64) error {
	if _, err := m.record(ctx, Call{Method: "ReserveChatIDs"}); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Overwritten, as the homeserver overwrites account data: a caller
	// that lowers the mark lowers it here too.
	m.reserved = upTo
	return nil
}

// failure is the error Fail set for a read method, or ctx's.
func (m *Matrix) failure(ctx context.Context, method string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fail[method]
}
