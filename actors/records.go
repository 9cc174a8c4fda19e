package actors

import (
	"fmt"
	"time"
)

// The records below are the durable state of the bot (PRODUCT R7.1). They are
// declared here, in the domain package, so that actors can use them without
// knowing how they are stored; persistence/ encodes them as versioned JSON.
// Adding a field is backwards compatible; renaming or re-typing one needs a
// new schema version in persistence/.

// UserRecord is one Matrix user the bot serves.
type UserRecord struct {
	// UserID is the Matrix user id, e.g. "@alice:example.org".
	UserID string `json:"user_id"`
	// SpaceID is the user's personal Space, empty until onboarding created it.
	SpaceID string `json:"space_id,omitempty"`
	// EntryRoomID is the room where the user first invited the bot (usually a DM).
	EntryRoomID string `json:"entry_room_id,omitempty"`
	// AgentID is the agent new chats are bound to; empty means "ask the registry".
	AgentID string `json:"agent_id,omitempty"`
	// ChatCounter is the last number used for "Chat N"; numbers are never reused.
	ChatCounter int `json:"chat_counter"`
	// DefaultAgentNoticed records that the one-time "you were given the default
	// agent" notice was sent (PRODUCT R5.2).
	DefaultAgentNoticed bool      `json:"default_agent_noticed,omitempty"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

// Validate refuses a room a Store must not write: one without its identity
// (room id, owner) or with a negative chat index. Every Store calls it, so
// they refuse the same records with the same words.
func (r RoomRecord) Validate() error {
	switch {
	case r.RoomID == "":
		return fmt.Errorf("failed to put room: empty room id: %w", ErrInvalidRecord)
	case r.OwnerID == "":
		return fmt.Errorf("failed to put room %q: empty owner id: %w", r.RoomID, ErrInvalidRecord)
	case r.ChatIndex < 0:
		return fmt.Errorf("failed to put room %q: negative chat index %d: %w", r.RoomID, r.ChatIndex, ErrInvalidRecord)
	}
	return nil
}

// RoomRecord is one conversation room: one agent context.
type RoomRecord struct {
	RoomID  string `json:"room_id"`
	OwnerID string `json:"owner_id"`
	SpaceID string `json:"space_id,omitempty"`
	// ChatIndex is N of the default name "Chat N".
	ChatIndex int    `json:"chat_index"`
	Name      string `json:"name"`
	// PlatformChatID selects the agent-side memory; taken from the process-wide
	// monotonic sequence (Store.NextPlatformChatID) and never reused.
	PlatformChatID string `json:"platform_chat_id"`
	AgentID        string `json:"agent_id"`
	// AgentDefaulted is set when the room got the default agent because its
	// owner had none assigned; once the registry assigns them one, the room
	// moves there (PRODUCT R5.3).
	AgentDefaulted bool `json:"agent_defaulted,omitempty"`
	Archived       bool `json:"archived,omitempty"`
	// Staged holds attachments waiting for the next turn (PRODUCT R4.1).
	Staged     []Attachment `json:"staged,omitempty"`
	LastTurnAt time.Time    `json:"last_turn_at,omitzero"`
	// TokensUsed is the sum of tokens_used the agent reported in END events.
	TokensUsed int64 `json:"tokens_used,omitempty"`
	// Turns counts the turns that ended in this room, failed ones included.
	Turns int `json:"turns,omitempty"`
	// FirstReplyMs holds the time from the start of a turn to the agent's
	// first text, in milliseconds, for the last MaxFirstReplySamples turns
	// that had text (!usage shows the median).
	FirstReplyMs []int64 `json:"first_reply_ms,omitempty"`
	// TurnInFlight is set while a turn runs and cleared when it ends, so that a
	// restart finding it set tells the user the turn was cut off (PRODUCT R7.2).
	TurnInFlight *InFlightTurn `json:"turn_in_flight,omitempty"`
	// Queue holds the messages waiting behind the running turn, oldest
	// first. It is written with every change, so a restart, a crash or a
	// graceful stop runs them afterwards instead of losing them (PRODUCT
	// R3.2, R7.2).
	Queue []QueuedMessage `json:"queue,omitempty"`
	// Taken holds the ids of the last events the room took (a message
	// queued or started, a file staged), newest last. They are written with
	// the change they made, so an event the homeserver delivers again after
	// a crash (the sync position is stored only once events are acked, see
	// Ack) is not taken twice.
	Taken []string `json:"taken,omitempty"`
	// Epoch is the fencing epoch of the activation that holds the room:
	// Store.ActivateRoom raises it each time a room actor starts, and
	// PutRoom refuses a record whose Epoch is below the stored one, so an
	// activation that another has replaced (around a crash, or on another
	// member of a cluster) can no longer write (issue 24).
	Epoch uint64 `json:"epoch,omitempty"`
	// CreatedBy is the event that made the room (a !new, an invite), so a
	// second delivery of it after a crash finds this room instead of
	// making another.
	CreatedBy string `json:"created_by,omitempty"`
	// CommandsVersion names the command descriptions last published in the
	// room (MSC4391); another version is published again.
	CommandsVersion string `json:"commands_version,omitempty"`
	// LastFailed is the room's last message whose turn failed (agent error,
	// timeout, lost connection, cut by a restart or crash), for !retry; a
	// turn that succeeds clears it (PRODUCT R3.12).
	LastFailed *FailedTurn `json:"last_failed,omitempty"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
}

// Attachment is a file the user sent that waits for the next turn.
type Attachment struct {
	// Path is relative to the agent's workspace, e.g. "incoming/20260428-110000-report.pdf".
	Path     string    `json:"path"`
	Name     string    `json:"name"`
	MIME     string    `json:"mime,omitempty"`
	Size     int64     `json:"size"`
	EventID  string    `json:"event_id,omitempty"`
	StagedAt time.Time `json:"staged_at"`
}

// InFlightTurn describes a turn that was running when its record was written.
type InFlightTurn struct {
	EventID string `json:"event_id"`
	// Text is the user's message, kept so a turn cut off by a restart can
	// be retried (!retry). It is stored, never logged.
	Text      string    `json:"text,omitempty"`
	StartedAt time.Time `json:"started_at"`
	// Ending is written, and lands, before the reply's last post may go
	// out (the agent ended the turn, or the user stopped it). Without it
	// the reply cannot have ended, and the room that starts with the turn
	// in flight tells its user at once; with it, it makes LastEdit again,
	// or, when the last post is a new message, asks the homeserver first
	// (MatrixSender.ReplyEnded), which on a loaded homeserver takes tens
	// of seconds.
	Ending bool `json:"ending,omitempty"`
	// LastEdit is the reply's last post when it is an edit, written with
	// Ending. Making an edit again doubles nothing (it replaces the
	// message with the same text), so the room that starts with this
	// turn makes it again, marked, and the reply is whole whether or not
	// the first one landed; no question to the homeserver.
	LastEdit *ReplyEdit `json:"last_edit,omitempty"`
}

// ReplyEdit is an edit of one of the bot's messages. Its text is stored,
// never logged.
type ReplyEdit struct {
	EventID string `json:"event_id"`
	Text    string `json:"text"`
}

// QueuedMessage is a user message waiting for its turn. Its text is stored,
// never logged.
type QueuedMessage struct {
	EventID  string    `json:"event_id"`
	Sender   string    `json:"sender,omitempty"`
	Text     string    `json:"text"`
	QueuedAt time.Time `json:"queued_at"`
}

// FailedTurn is a message whose turn failed, kept for !retry.
type FailedTurn struct {
	EventID  string    `json:"event_id"`
	Text     string    `json:"text"`
	FailedAt time.Time `json:"failed_at"`
}

// SavedContext is a named platform_chat_id a user saved with !save (PRODUCT R2.12).
type SavedContext struct {
	UserID         string    `json:"user_id"`
	Name           string    `json:"name"`
	PlatformChatID string    `json:"platform_chat_id"`
	AgentID        string    `json:"agent_id"`
	SavedAt        time.Time `json:"saved_at"`
}

// MaxFirstReplySamples bounds RoomRecord.FirstReplyMs.
const MaxFirstReplySamples = 50
