package actors

import (
	"context"
	"time"
)

// The homeserver, not the local disk, is the source of truth (PRODUCT R11):
// every room and Space the bot creates carries a state event the bot wrote
// itself with what is needed to serve it again, and the platform_chat_id
// high-water mark is reserved ahead in the bot's account data. The types
// below are that truth as the actors see it; matrix/ encodes them.

// ChatState is the bot's own state event of a chat room.
type ChatState struct {
	Owner          string `json:"owner"`
	SpaceID        string `json:"space_id,omitempty"`
	ChatIndex      int    `json:"chat_index"`
	Name           string `json:"name"`
	PlatformChatID string `json:"platform_chat_id"`
	AgentID        string `json:"agent_id"`
	AgentDefaulted bool   `json:"agent_defaulted,omitempty"`
	Archived       bool   `json:"archived,omitempty"`
	// CreatedBy is the event that made the room (RoomRecord.CreatedBy).
	CreatedBy string    `json:"created_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SpaceState is the bot's own state event of a user's Space.
type SpaceState struct {
	Owner       string `json:"owner"`
	EntryRoomID string `json:"entry_room_id,omitempty"`
	AgentID     string `json:"agent_id,omitempty"`
	// ChatCounter is the last "Chat N" number used; numbers are never reused.
	ChatCounter         int       `json:"chat_counter"`
	DefaultAgentNoticed bool      `json:"default_agent_noticed,omitempty"`
	UpdatedAt           time.Time `json:"updated_at"`
}

// RoomState is what the homeserver holds about one room the bot is in.
type RoomState struct {
	// Chat and Space are the bot's own state events (nil when absent). An
	// event of our types sent by anyone else is never returned.
	Chat  *ChatState
	Space *SpaceState
	// Forged counts events of our types another user sent (ignored).
	Forged int
	// Children are the rooms a Space lists (m.space.child with content).
	Children []string
	// Members maps user ids to their membership ("join", "invite", "leave", ...).
	Members map[string]string
}

// StateEvents is the bot's own state on the homeserver: the state events
// it wrote in its rooms and Spaces, and the platform_chat_id reservation
// in its account data. Only the bot may write them; reconciliation reads
// them back after a lost disk.
type StateEvents interface {
	// SetChatState writes the bot's state event of a chat room.
	SetChatState(ctx context.Context, roomID string, st ChatState) error
	// SetSpaceState writes the bot's state event of a Space.
	SetSpaceState(ctx context.Context, spaceID string, st SpaceState) error
	// JoinedRooms lists the rooms the bot is joined to.
	JoinedRooms(ctx context.Context) ([]string, error)
	// RoomState reads what reconciliation needs of roomID.
	RoomState(ctx context.Context, roomID string) (RoomState, error)
	// ReservedChatIDs is the platform_chat_id high-water mark in the bot's
	// account data (0 when none was written).
	ReservedChatIDs(ctx context.Context) (uint64, error)
	// ReserveChatIDs raises the high-water mark to upTo.
	ReserveChatIDs(ctx context.Context, upTo uint64) error
}

// ChatStateOf is the state event that describes r.
func ChatStateOf(r RoomRecord) ChatState {
	return ChatState{
		Owner: r.OwnerID, SpaceID: r.SpaceID, ChatIndex: r.ChatIndex, Name: r.Name,
		PlatformChatID: r.PlatformChatID, AgentID: r.AgentID, AgentDefaulted: r.AgentDefaulted,
		Archived: r.Archived, CreatedBy: r.CreatedBy, UpdatedAt: r.UpdatedAt,
	}
}

// SpaceStateOf is the state event that describes u's Space.
func SpaceStateOf(u UserRecord) SpaceState {
	return SpaceState{
		Owner: u.UserID, EntryRoomID: u.EntryRoomID, AgentID: u.AgentID, ChatCounter: u.ChatCounter,
		DefaultAgentNoticed: u.DefaultAgentNoticed, UpdatedAt: u.UpdatedAt,
	}
}

// SameChat reports whether a and b describe the room alike (UpdatedAt
// aside): a room writes its state event only when this changes.
func SameChat(a, b ChatState) bool {
	a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	return a == b
}
