package actors

import (
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/surfaces-bot/surfaces/actors/catalog"
)

// Deps are the ports the tree works through. All are required.
type Deps struct {
	Store    Store
	Matrix   Matrix
	Agents   AgentDialer
	Registry Registry
	Catalog  *catalog.Catalog
	// Files is the volume shared with the agents (PRODUCT R4).
	Files Files

	// Drain, when set, is how a graceful stop tells the rooms to start no
	// new turn (optional).
	Drain *Drain
	// Pacer paces the posts to rooms (optional: root.NewProps makes one
	// under Options.SendBudget); cmd/ makes it to tell it the homeserver's
	// 429s (SendPacer.RateLimited).
	Pacer *SendPacer
	// Placer, when set, places user and room actors in a cluster as
	// grains (issue 24): the root reaches the users' actors through it,
	// and a user actor its rooms, instead of spawning them as children
	// (optional).
	Placer Placer
}

// Options tune the tree. Zero values take the defaults below; cmd/ fills
// them from config.
type Options struct {
	// BotUserID is the bot's own Matrix id; its events are never handled.
	BotUserID string
	// QueueSize is how many messages may wait behind a running turn in one room.
	QueueSize int
	// EditInterval is the least time between two edits of a streaming reply;
	// it grows as a reply is edited (see editWait).
	EditInterval time.Duration
	// MaxEdits caps the edits of one reply, the final one included.
	MaxEdits int
	// ConfirmTimeout is how long an agent's confirmation request waits for
	// the person before it is declined.
	ConfirmTimeout time.Duration
	// CancelGrace is how long an agent asked to stop a turn (USER_CANCEL)
	// has to end it before its connection is closed.
	CancelGrace time.Duration
	// NotifyAfter: a turn that ran longer ends with its answer in a new
	// message, which notifies, instead of a last edit, which does not.
	NotifyAfter time.Duration
	// TypingTimeout is the timeout sent with a typing notification, and
	// TypingRefresh how often it is renewed while the agent works.
	TypingTimeout time.Duration
	TypingRefresh time.Duration
	// TypingAfter is how long a turn runs without its reply showing
	// before the bot marks the message read and turns typing on; 0 does
	// both as the turn starts (PRODUCT R3.3, R3.9 as written). A reply
	// quicker than that is its own sign that the message was taken, and
	// the receipt follows it: a fast turn then costs the homeserver two
	// writes fewer (a typing notice on and off) and its first message
	// does not queue behind them. Nor does typing go on for a reply the
	// agent has finished whose text is already on its way (a homeserver
	// slow to take it): only its receipt goes then.
	TypingAfter time.Duration
	// ConnIdleClose closes a room's agent connection after this long unused.
	ConnIdleClose time.Duration
	// PassivateAfter stops a room actor idle this long, and a user actor
	// whose room actors are all stopped; the next message starts them again
	// from the Store. Negative never stops them.
	PassivateAfter time.Duration
	// MaxMessageBytes is the largest reply body in one Matrix event; longer
	// replies are split into consecutive messages.
	MaxMessageBytes int
	// SpaceNameTemplate names a new Space; "{name}" is the user's display name.
	// Empty uses the catalogue's.
	SpaceNameTemplate string
	// DenyMessage answers users the access policy refuses; empty uses the
	// catalogue's text.
	DenyMessage string
	// FirstChatName names a user's first chat; empty uses the catalogue's
	// "Chat 1".
	FirstChatName string
	// AllowedServers limits whose invites are accepted; empty allows any.
	AllowedServers []string
	// RateLimit is the per-user token bucket: Rate messages per second
	// sustained, Burst at once. A zero Rate means no limit.
	RateLimit RateLimit
	// MaxChats is how many active chats a user may have (!new is refused
	// past it); MaxStagedBytes how many bytes of files they may have
	// waiting for the agent over all their chats. 0: no limit (PRODUCT
	// R6.4).
	MaxChats       int
	MaxStagedBytes int64
	// SendBudget is the operator's ceiling on the posts to rooms (messages,
	// edits, notices, reactions), kept below the homeserver's rate limit:
	// Rate per second sustained, Burst at once. A zero Rate means none.
	SendBudget RateLimit
	// UserSelectableAgents lets users switch a chat's agent with !agent
	// (PRODUCT R2.13); otherwise routing is the operator's alone.
	UserSelectableAgents bool
	// RoomMiddleware wraps every room actor's Receive (metrics, tracing, and
	// fault injection in tests).
	RoomMiddleware []actor.ReceiverMiddleware
	// UserMiddleware wraps every user actor's Receive likewise.
	UserMiddleware []actor.ReceiverMiddleware
	// TookOver says the tree starts on a cluster member that took the
	// ingress over from another: the records in the shared database are
	// that member's, current, and start-up reconciliation reads only the
	// joined rooms no record names (reconcile.UnrecordedRooms), so the
	// rooms answer again in seconds.
	TookOver bool
	// HandoverGrace is how long a room whose grain moves to another member
	// may take to finish its turn before it is stopped and the turn cut
	// (package grain; cmd/ sets shutdown.grace).
	HandoverGrace time.Duration
}

// RateLimit configures a per-user token bucket (PRODUCT R6.2).
type RateLimit struct {
	Rate  float64
	Burst int
}

// WithDefaults returns o with the defaults in place of its zero values.
func (o Options) WithDefaults() Options {
	if o.HandoverGrace <= 0 {
		o.HandoverGrace = 30 * time.Second
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 10
	}
	if o.EditInterval <= 0 {
		o.EditInterval = time.Second
	}
	if o.MaxEdits <= 0 {
		o.MaxEdits = 60
	}
	if o.ConfirmTimeout <= 0 {
		o.ConfirmTimeout = 10 * time.Minute
	}
	if o.CancelGrace <= 0 {
		o.CancelGrace = 5 * time.Second
	}
	if o.NotifyAfter <= 0 {
		o.NotifyAfter = 10 * time.Second
	}
	if o.TypingTimeout <= 0 {
		o.TypingTimeout = 30 * time.Second
	}
	if o.TypingRefresh <= 0 || o.TypingRefresh >= o.TypingTimeout {
		o.TypingRefresh = o.TypingTimeout * 2 / 3
	}
	if o.ConnIdleClose <= 0 {
		o.ConnIdleClose = 5 * time.Minute
	}
	if o.PassivateAfter == 0 {
		o.PassivateAfter = 15 * time.Minute
	}
	if o.RateLimit.Rate > 0 && o.RateLimit.Burst < 1 {
		o.RateLimit.Burst = 1
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 8000 // JSON-escaped worst case (6 bytes a char) still fits one event
	}
	return o
}

// Validate reports a missing port; a nil port would only fail later, inside
// an actor, far from the mistake.
func (d Deps) Validate() error {
	if d.Store == nil || d.Matrix == nil || d.Agents == nil || d.Registry == nil || d.Catalog == nil || d.Files == nil {
		return errors.New("actors: every dependency is required")
	}
	return nil
}
