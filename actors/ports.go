package actors

import (
	"context"
	"io"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// The ports below are everything the actor tree needs from the outside world.
// matrix/, agents/ and persistence/ implement them; actors/ never imports
// those packages (nor mautrix or Badger), which a test enforces. Every method
// may block on the network or the disk, so actors call them only from
// goroutines they own, never from Receive.

// Store is the durable state (PRODUCT R7.1). Reads of a missing record return
// an error wrapping ErrNotFound. Every write error is returned; a record
// without its identity (user id, room id, owner, saved-context name) or with
// a negative ChatIndex is refused and nothing is written. A cancelled ctx
// fails the call. Returned records share no memory with the store.
// actortest.RunStoreContract checks all of this for an implementation.
type Store interface {
	GetUser(ctx context.Context, userID string) (UserRecord, error)
	PutUser(ctx context.Context, u UserRecord) error
	// PutUsers stores many users, each as PutUser would, with one durable
	// write per batch (reconciliation after a lost disk recovers
	// thousands). On an error some batches may have landed.
	PutUsers(ctx context.Context, users []UserRecord) error
	// ListUsers returns every user, ordered by user id.
	ListUsers(ctx context.Context) ([]UserRecord, error)

	GetRoom(ctx context.Context, roomID string) (RoomRecord, error)
	// ActivateRoom takes the room for a new activation: it raises the
	// stored record's Epoch by one and returns the record with it (a
	// missing record is ErrNotFound, and nothing is raised).
	ActivateRoom(ctx context.Context, roomID string) (RoomRecord, error)
	// PutRoom creates or replaces r. It refuses, with ErrStaleEpoch, a
	// record whose Epoch is below the stored one: the activation that
	// wrote it has been replaced.
	PutRoom(ctx context.Context, r RoomRecord) error
	// PutRooms stores many rooms, each as PutRoom would, with one durable
	// write per batch instead of one per room (start-up reconciliation
	// after a lost disk writes thousands). On an error some batches may
	// have landed; each room is whole or absent.
	PutRooms(ctx context.Context, rooms []RoomRecord) error
	// ListRooms returns the rooms owned by userID, archived ones included,
	// ordered by ChatIndex, then room id.
	ListRooms(ctx context.Context, userID string) ([]RoomRecord, error)

	// NextPlatformChatID takes the next value of the process-wide monotonic
	// sequence ("1", "2", ...). A value is never returned twice, across
	// restarts included.
	NextPlatformChatID(ctx context.Context) (string, error)
	// RaisePlatformChatID makes every value NextPlatformChatID returns from
	// now on greater than atLeast (no-op when it already is): after the
	// state directory was lost, ids an agent already holds are skipped.
	RaisePlatformChatID(ctx context.Context, atLeast uint64) error

	// PutSavedContext stores s; one saved under the same (user, name)
	// before is replaced.
	PutSavedContext(ctx context.Context, s SavedContext) error
	// ListSavedContexts returns userID's saved contexts, oldest first, then
	// by name, so the numbers !load shows stay stable as contexts are added.
	ListSavedContexts(ctx context.Context, userID string) ([]SavedContext, error)
}

// ChatIDLock is implemented by a Store that several processes share (the
// members of a cluster on PostgreSQL). The homeserver's platform_chat_id
// mark (StateEvents.ReserveChatIDs) has no compare-and-set, so two members
// reserving at once could write it out of order, leaving it below an id
// one of them handed out; the chat id reservation reads and writes the
// mark under this lock, one process at a time, and never lowers it.
type ChatIDLock interface {
	// WithChatIDLock runs fn holding the lock; it waits for it until ctx
	// ends.
	WithChatIDLock(ctx context.Context, fn func(ctx context.Context) error) error
}

// MatrixSender sends what a room shows the user.
type MatrixSender interface {
	// SendNotice posts an m.notice (the bot's own words; Markdown allowed).
	SendNotice(ctx context.Context, roomID, text string) (eventID string, err error)
	// SendText posts an m.text agent reply: body keeps the plain text,
	// formatted_body is the Markdown rendered to sanitised HTML.
	SendText(ctx context.Context, roomID, markdown string) (eventID string, err error)
	// EditText replaces the content of an earlier SendText event (m.replace).
	EditText(ctx context.Context, roomID, eventID, markdown string) error
	// SetTyping turns the typing notification on (for timeout) or off.
	SetTyping(ctx context.Context, roomID string, typing bool, timeout time.Duration) error
	// SendReaction reacts to eventID with key (an m.annotation), e.g. to
	// offer the answers a user can tap.
	SendReaction(ctx context.Context, roomID, eventID, key string) error
	// MarkRead sends the bot's m.read receipt for eventID, so the user sees
	// which messages the agent has picked up.
	MarkRead(ctx context.Context, roomID, eventID string) error
	// ReplyEnded reports whether roomID's recent timeline holds the bot's
	// post marked (ReplyEnd) as the last of its reply to the user's
	// message eventID: the reply ended, whatever the record says. The
	// answer must count every post the homeserver took before the call,
	// even one it shows late, so it may take as long as the homeserver's
	// reads lag its writes; the Matrix side writes a probe (a state event
	// clients hide) into the room and reads until it shows.
	ReplyEnded(ctx context.Context, roomID, eventID string) (bool, error)
}

// MatrixRooms creates and manages rooms and membership.
type MatrixRooms interface {
	JoinRoom(ctx context.Context, roomID string) error
	// RejectInvite declines an invite (leave without having joined).
	RejectInvite(ctx context.Context, roomID, reason string) error
	LeaveRoom(ctx context.Context, roomID string) error
	// CreateSpace creates a Space (creation_content.type = m.space) carrying
	// st as its initial state (PRODUCT R11) and invites users.
	CreateSpace(ctx context.Context, name string, invite []string, st SpaceState) (roomID string, err error)
	// CreateChatRoom creates a room that is a child of spaceID: m.space.child in
	// the Space and m.space.parent in the room, with st as its initial state
	// and power levels under which only the bot can change st; it invites
	// users. The room describes cmds (MSC4391) from its creation on, as
	// SetCommands would, without a request per command.
	CreateChatRoom(ctx context.Context, spaceID, name string, invite []string, st ChatState, cmds []CommandDescription) (roomID string, err error)
	Invite(ctx context.Context, roomID, userID string) error
	SetRoomName(ctx context.Context, roomID, name string) error
	// RemoveFromSpace empties the m.space.child event of roomID in spaceID.
	RemoveFromSpace(ctx context.Context, spaceID, roomID string) error
	// AddToSpace lists roomID in spaceID (m.space.child).
	AddToSpace(ctx context.Context, spaceID, roomID string) error
	// DisplayName is the user's display name, or the user id when unset.
	DisplayName(ctx context.Context, userID string) (string, error)
	// SetCommands publishes descriptions of the commands valid in roomID
	// (MSC4391), so that clients can complete them.
	SetCommands(ctx context.Context, roomID string, cmds []CommandDescription) error
}

// CommandDescription is one command as a client shows it (MSC4391).
type CommandDescription struct {
	// Command is the word without "!".
	Command     string
	Aliases     []string
	Description string
	Params      []CommandParam
}

// CommandParam is one parameter of a command; the last one takes the rest
// of the line.
type CommandParam struct {
	Key         string
	Optional    bool
	Description string
}

// MatrixMedia moves files between rooms and the bot (PRODUCT R4).
type MatrixMedia interface {
	// Download streams the content of m.URL into w (authenticated media
	// first, the legacy endpoint for older homeservers), decrypted when m
	// is an encrypted room's attachment (m.Key); a file whose hash does not
	// match fails.
	Download(ctx context.Context, m Media, w io.Writer) error
	// SendFile uploads f.Content (streamed) and posts it as m.image,
	// m.audio, m.video or m.file by f.MIME, with its info.
	SendFile(ctx context.Context, roomID string, f OutgoingFile) (eventID string, err error)
}

// Matrix is the whole Matrix side as the actors see it.
type Matrix interface {
	MatrixSender
	MatrixRooms
	StateEvents
	MatrixMedia
}

// Files moves files through the volume shared with the agents (PRODUCT R4).
// Paths are relative to an agent's workspace. Implementations are safe for
// concurrent use.
type Files interface {
	// Receive writes what fill writes into a new file in the agent's
	// incoming/ directory, named after name (made safe, with the UTC time
	// in front), and returns it as an Attachment. Past the size limit fill's
	// writes fail with an error wrapping ErrFileTooLarge; on any error no
	// file is left behind.
	Receive(ctx context.Context, agent AgentRef, name string, fill func(w io.Writer) error) (Attachment, error)
	// Remove deletes a file Receive made.
	Remove(ctx context.Context, agent AgentRef, path string) error
	// Open opens a file the agent sends, refusing one that resolves outside
	// its workspace (ErrUnsafePath) or is over the limit (ErrFileTooLarge).
	// The caller closes Content.
	Open(ctx context.Context, agent AgentRef, path string) (OutgoingFile, error)
	// MaxSize is the size limit in bytes.
	MaxSize() int64
}

// OutgoingFile is a file on its way from an agent to a room.
type OutgoingFile struct {
	Name string
	MIME string
	Size int64
	// Width and Height are set for images the standard library decodes.
	Width, Height int
	Content       io.ReadCloser
}

// AgentRef is one agent of the registry (PRODUCT R5.1).
type AgentRef struct {
	ID    string
	Label string
	// BaseURL is the registry's base_url as written; the dialer normalises it.
	BaseURL string
	// WorkspacePath is the agent's workspace on the bot's side of the shared
	// volume (the agent sees it as /workspace).
	WorkspacePath string
}

// Registry maps users to agents. Implementations are safe for concurrent use
// and may change between calls (hot reload).
type Registry interface {
	// AgentFor returns the agent of userID. assigned is false when the user is
	// not in user_agents and the default policy gave them the first agent.
	// Under the deny policy an unassigned user gets an error wrapping ErrAccessDenied.
	AgentFor(userID string) (agent AgentRef, assigned bool, err error)
	// Agent looks an agent up by id.
	Agent(id string) (AgentRef, bool)
	// Agents lists every agent in registry order.
	Agents() []AgentRef
}

// AgentDialer opens agent connections.
type AgentDialer interface {
	// Dial connects to agent at platform chat chatID and waits for STATUS.
	// Errors wrap ErrAgentUnavailable.
	Dial(ctx context.Context, agent AgentRef, chatID string) (AgentConn, error)
}

// AgentConn is one open agent WebSocket. It runs one turn at a time.
type AgentConn interface {
	// Turn sends USER_MESSAGE and returns the turn's events: zero or more
	// progress events, then exactly one terminal event (AgentEnd or
	// AgentFailed), then the channel is closed. ctx bounds the whole turn.
	// It returns ErrTurnRunning if the previous turn has not ended.
	Turn(ctx context.Context, msg UserMessage) (<-chan AgentEvent, error)
	// Confirm answers an AgentConfirmRequest (USER_CONFIRM).
	Confirm(ctx context.Context, id string, approved bool) error
	// Cancel asks the agent to stop the running turn (USER_CANCEL) when its
	// STATUS listed the cancel capability; sent is false, and nothing is
	// sent, when it did not. An agent that honours it ends the turn soon.
	Cancel(ctx context.Context) (sent bool, err error)
	// Done is closed when the connection has ended; Err then says why.
	Done() <-chan struct{}
	Err() error
	// Close closes the connection normally (code 1000).
	Close() error
}

// UserMessage is one turn's input.
type UserMessage struct {
	Text string
	// Attachments are paths relative to the agent's workspace.
	Attachments []string
}

// AgentEventKind tells what an AgentEvent carries.
type AgentEventKind int

// The kinds of AgentEvent, one per agent-to-client frame type.
const (
	AgentTextChunk AgentEventKind = iota + 1
	AgentToolCall
	AgentToolResult
	AgentCustomUpdate
	AgentSendFile
	AgentConfirmRequest
	// AgentEnd is terminal: the turn is over (TokensUsed may be set).
	AgentEnd
	// AgentFailed is terminal: ERROR frame, timeout, protocol violation or a
	// dropped connection; Err wraps one of the ErrAgent* sentinels.
	AgentFailed
)

// String names the kind for logs.
func (k AgentEventKind) String() string {
	switch k {
	case AgentTextChunk:
		return "text_chunk"
	case AgentToolCall:
		return "tool_call"
	case AgentToolResult:
		return "tool_result"
	case AgentCustomUpdate:
		return "custom_update"
	case AgentSendFile:
		return "send_file"
	case AgentConfirmRequest:
		return "confirm_request"
	case AgentEnd:
		return "end"
	case AgentFailed:
		return "failed"
	default:
		return "unknown"
	}
}

// AgentEvent is one event of a turn, decoded from the wire.
type AgentEvent struct {
	Kind AgentEventKind
	// Text: the chunk (AgentTextChunk), the update text (AgentCustomUpdate),
	// the question (AgentConfirmRequest) or the agent's message (AgentFailed
	// from an ERROR frame).
	Text string
	// Name is the tool name (AgentToolCall, AgentToolResult).
	Name string
	// ID is the tool call id or the confirmation id.
	ID string
	// Path (AgentSendFile) is the file path normalised to be relative to the
	// agent's workspace (docs/agent-protocol.md); it is not yet resolved on disk.
	Path string
	// TokensUsed (AgentEnd) as reported by the agent, 0 if not.
	TokensUsed int64
	// Code is the ERROR frame's optional code.
	Code string
	// Err (AgentFailed) wraps one of the ErrAgent* sentinels. On an
	// AgentSendFile it is set when the path was refused (outside the
	// workspace); Path then holds the raw path for the notice.
	Err error
}

// Terminal reports whether the event ends the turn.
func (e AgentEvent) Terminal() bool { return e.Kind == AgentEnd || e.Kind == AgentFailed }

// Placer finds the actor of a room or a user placed by a cluster (issue
// 24): the PID of the grain of kind (RoomKind, UserKind) and identity id,
// activated where the cluster places it. It blocks for a round trip to the
// member that owns the grain; callers run it in a task. An error means the
// cluster could not place it now (no member, or the owner did not answer):
// try again later.
type Placer interface {
	Place(ctx context.Context, kind, id string) (*actor.PID, error)
}

// The kinds of grains a cluster places (Placer).
const (
	// RoomKind is a room's actor; its identity is the room id.
	RoomKind = "room"
	// UserKind is a user's actor; its identity is the user id.
	UserKind = "user"
)
