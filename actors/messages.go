package actors

import "time"

// Messages into the tree. The Matrix side sends InviteReceived and
// MessageReceived to the root actor; the root forwards them to the user
// actor of the sender, which forwards room work to the room actor as
// StartTurn and RunCommand. Messages are sent as pointers and never mutated
// after sending.

// RootMessage is the closed set of messages the root actor accepts.
type RootMessage interface{ rootMessage() }

// UserMessage is the closed set of messages a user actor accepts.
type UserActorMessage interface{ userMessage() }

// RoomMessage is the closed set of messages a room actor accepts.
type RoomMessage interface{ roomMessage() }

// InviteReceived: the bot was invited to RoomID by Inviter.
type InviteReceived struct {
	RoomID   string
	EventID  string
	Inviter  string
	IsDirect bool
	// Ack is acked once the tree is done with the event (see Ack); nil
	// when nobody waits for it.
	Ack *Ack
}

// MessageReceived: a message event in a room the bot has joined. The Matrix
// side has already dropped the bot's own events, events from before the bot
// joined, redactions, edits and other bots' notices (PRODUCT R6.3).
type MessageReceived struct {
	RoomID  string
	EventID string
	Sender  string
	// MsgType is the Matrix msgtype ("m.text", "m.emote", "m.file", ...).
	MsgType string
	// Body is the plain text body (the caption for media).
	Body string
	// Media is set for m.file, m.image, m.audio and m.video.
	Media  *Media
	SentAt time.Time
	// ReceivedAt is when the bot took the event from the homeserver's
	// response: where a turn's stages are measured from (TurnStages).
	ReceivedAt time.Time
	// Ack is acked once the tree is done with the event (see Ack); nil
	// when nobody waits for it.
	Ack *Ack
}

// ReactionReceived: a user reacted (m.reaction, an m.annotation) with Key to
// the event RelatesTo in a room the bot has joined. The Matrix side has
// already dropped the bot's own reactions.
type ReactionReceived struct {
	RoomID    string
	EventID   string
	Sender    string
	RelatesTo string
	Key       string
	// Ack is acked once the tree is done with the event (see Ack); nil
	// when nobody waits for it.
	Ack *Ack
}

// MessagesSkipped: after the bot was away, the homeserver's sync left out
// more of RoomID's timeline than the bot fetches back, so some messages
// were not read. Owner is the room's owner, who is told.
type MessagesSkipped struct {
	RoomID string
	Owner  string
	// Ack is acked once the tree is done with the event (see Ack); nil
	// when nobody waits for it.
	Ack *Ack
}

// DeviceChanged: the bot's device is new (its encryption keys were made at
// this start, e.g. after a lost state directory); the users of RoomIDs, the
// encrypted rooms it is in, are told.
type DeviceChanged struct {
	RoomIDs []string
	// Ack is acked once the notices are on their way; nil when nobody
	// waits for it.
	Ack *Ack
}

// MsgTypeEncrypted is the MsgType of an m.room.encrypted event, whose body
// the bot does not read (encryption is off).
const MsgTypeEncrypted = "m.room.encrypted"

// MsgTypeUndecryptable is the MsgType of an encrypted message the bot could
// not decrypt (its keys never came): the sender is asked to send it again.
const MsgTypeUndecryptable = "org.surfaces.undecryptable"

// Media describes an incoming file event (PRODUCT R4.1).
type Media struct {
	// URL is the mxc:// content URI.
	URL string
	// Key decrypts the content of an encrypted room's attachment: the
	// Matrix side's encoding of it, opaque here; empty for a plain file.
	Key      string
	FileName string
	MIME     string
	Size     int64
}

// StartTurn asks a room actor to send Text to the agent, after any turns
// already waiting (PRODUCT R3.1–R3.2).
type StartTurn struct {
	EventID string
	Sender  string
	Text    string

	// The fields below are the tree's own (a user actor's, then its
	// room's); a caller leaves them zero.

	// QueuedAt is when the room queued it (kept across restarts).
	QueuedAt time.Time
	// ReceivedAt is MessageReceived.ReceivedAt; TakenAt is when the room
	// actor took it (see TurnStages).
	ReceivedAt, TakenAt time.Time
	// Ack is the Ack of the MessageReceived it came from; the room acks
	// once the message is in its stored record.
	Ack *Ack
	// HandedOver marks a message a crashed room actor had queued, handed to
	// its successor: taken already, and not a second delivery.
	HandedOver bool
	// Arrival orders the queue: the room numbers what it takes as it takes
	// it, so a caption whose file finished late keeps its place (0: before
	// anything this incarnation took, as a restored queue is).
	Arrival uint64
}

// StageFile asks a room actor to receive a file the user sent and stage it
// for the next turn (PRODUCT R4.1); a Caption starts that turn at once.
type StageFile struct {
	EventID string
	Sender  string
	Media   Media
	Caption string

	// Ack is the Ack of the MessageReceived it came from; the room acks
	// once the file is staged in its stored record (or refused).
	Ack *Ack
	// Limit, when above 0, is how many bytes the file may have before the
	// user's staged-files quota refuses it (set by the user actor).
	Limit int64
}

// RunCommand asks a room actor to run a room-scoped command.
type RunCommand struct {
	EventID string
	Command Command
	// Ack is acked once the command's effect is durable (see
	// room_commandacks.go).
	Ack *Ack
}

// RoomUpdated tells the user actor that one of its rooms changed and was
// stored; Record is a copy the receiver may keep.
type RoomUpdated struct {
	Record RoomRecord
}

// WakeRoom asks a user actor to start the actor of its room RoomID without
// a message, so that it reports a turn a stop cut off.
type WakeRoom struct{ RoomID string }

func (*InviteReceived) rootMessage()   {}
func (*MessageReceived) rootMessage()  {}
func (*ReactionReceived) rootMessage() {}
func (*MessagesSkipped) rootMessage()  {}
func (*DeviceChanged) rootMessage()    {}

func (*InviteReceived) userMessage()   {}
func (*MessageReceived) userMessage()  {}
func (*ReactionReceived) userMessage() {}
func (*RoomUpdated) userMessage()      {}
func (*MessagesSkipped) userMessage()  {}
func (*WakeRoom) userMessage()         {}

func (*StartTurn) roomMessage()        {}
func (*RunCommand) roomMessage()       {}
func (*StageFile) roomMessage()        {}
func (*ReactionReceived) roomMessage() {}

// Events published on the actor system's EventStream, for observers such as
// metrics and tests. They describe what happened; nothing depends on them
// being received.

// TurnStarted: a room actor sent USER_MESSAGE for EventID (or is dialing to).
type TurnStarted struct {
	RoomID  string
	EventID string
	// Queued is how many messages still wait behind this turn.
	Queued int
}

// TurnEnded: a turn is over and its reply is final.
type TurnEnded struct {
	RoomID  string
	EventID string
	// AgentID is the agent the turn ran on.
	AgentID string
	// Err is nil for a turn that ended with END.
	Err        error
	Chunks     int
	TokensUsed int64
	Duration   time.Duration
	// FirstChunk is the time from the start of the turn to the agent's
	// first text chunk; 0 when no text came (Chunks is 0).
	FirstChunk time.Duration
	// Stages is where the turn's time went.
	Stages TurnStages
}

// TurnStages says where a turn's time went: each is the time from the
// moment the bot took the user's message from the homeserver's response to
// the end of a stage, 0 for a stage the turn did not reach (no text, a
// failure, a message that came from the record after a restart).
type TurnStages struct {
	// Taken: the room actor took the message.
	Taken time.Duration
	// Recorded: the record holding the turn landed (the message is
	// durable; a message queued behind another turn waited here too).
	Recorded time.Duration
	// AgentReady: the agent's connection was ready and USER_MESSAGE went out.
	AgentReady time.Duration
	// FirstChunk: the agent's first text arrived.
	FirstChunk time.Duration
	// FirstSent: the room handed the reply's first message to sending.
	// After FirstChunk the time up to it is the room's own wait (the
	// turn's ending record, when the first message is also the last; a
	// file posted before the text); from it to FirstVisible is sending:
	// waiting out the homeserver's rate limit, retries, encryption, and
	// the homeserver's answer.
	FirstSent time.Duration
	// FirstVisible: the homeserver accepted the reply's first message,
	// which the user sees.
	FirstVisible time.Duration
	// Final: the reply shows its final text.
	Final time.Duration
}

// MessageRejected: a message was not passed on, because the room's queue was
// full or its sender went over their rate limit.
type MessageRejected struct {
	RoomID  string
	EventID string
	// Reason is RejectedQueueFull or RejectedRateLimited.
	Reason string
}

// The reasons of MessageRejected.
const (
	RejectedQueueFull   = "queue_full"
	RejectedRateLimited = "rate_limited"
)

// RecordWriteFailed: a room's record could not be written. The room keeps
// the change, holds the acks of the events it took and writes again after
// a backoff; Attempt counts the failures in a row.
type RecordWriteFailed struct {
	RoomID  string
	Attempt int
	Err     error
}

// RoomFenced: a room actor found its record taken by a newer activation
// (a write refused with ErrStaleEpoch) and stopped without sending
// anything more; Epoch is its own, now stale.
type RoomFenced struct {
	RoomID string
	Epoch  uint64
}

// RecordWritesRecovered: a room's record was written after Failures failed
// attempts in a row.
type RecordWritesRecovered struct {
	RoomID   string
	Failures int
}

// QuotaRefused: a user's request was refused by a quota (Quota is
// QuotaChats or QuotaStagedBytes).
type QuotaRefused struct {
	UserID string
	Quota  string
}

// The quotas of QuotaRefused.
const (
	QuotaChats       = "chats"
	QuotaStagedBytes = "staged_bytes"
)

// RoomRestarted: a room actor came back after a crash.
type RoomRestarted struct {
	RoomID string
}

// RoomActivated: a room actor started and took its room (Store.ActivateRoom
// returned its record with a new fencing epoch). Took is the time from the
// actor's start to then: what a message to a room that was not running
// waits before anything else, and what a member taking over pays a room.
type RoomActivated struct {
	RoomID string
	Epoch  uint64
	Took   time.Duration
}
