package actors

import (
	"context"
	"sync/atomic"
)

// A reply's last post carries a mark naming the user's message it answers,
// so that a room whose turn was in flight when its holder stopped (a kill,
// a crash, a member of a cluster dying) can ask the homeserver whether the
// reply had in fact ended: the record's TurnInFlight is cleared only once
// the last post has returned, and a holder killed between the two left a
// complete reply behind. Without the mark the next holder would tell the
// user their reply was cut when it was not.
//
// A post may turn out to be the last only after it was asked for: the
// agent's end comes while the post waits for its turn to be sent. Its mark
// (a ReplyEnd) can then still be set, and the Matrix side reads it when it
// builds the event.

// ReplyEnd is the mark of one post: empty, or the user's message whose
// reply the post ends. It is safe for concurrent use.
type ReplyEnd struct{ eventID atomic.Pointer[string] }

// Set marks the post as the last of the reply to eventID.
func (e *ReplyEnd) Set(eventID string) { e.eventID.Store(&eventID) }

// EventID is the message whose reply the post ends, or "".
func (e *ReplyEnd) EventID() string {
	if id := e.eventID.Load(); id != nil {
		return *id
	}
	return ""
}

type replyEndKey struct{}

// WithReplyEnd has the posts made with ctx carry e's mark as it is when
// each is built.
func WithReplyEnd(ctx context.Context, e *ReplyEnd) context.Context {
	return context.WithValue(ctx, replyEndKey{}, e)
}

// EndingReply marks the posts made with ctx as the last post of the bot's
// reply to the user's message eventID (see MatrixSender.ReplyEnded).
func EndingReply(ctx context.Context, eventID string) context.Context {
	e := &ReplyEnd{}
	e.Set(eventID)
	return WithReplyEnd(ctx, e)
}

// ReplyEndOf is the user's message whose reply a post made with ctx ends,
// or "" for any other post.
func ReplyEndOf(ctx context.Context) string {
	if e, ok := ctx.Value(replyEndKey{}).(*ReplyEnd); ok && e != nil {
		return e.EventID()
	}
	return ""
}
