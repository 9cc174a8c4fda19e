package actors

import "context"

// A reply's last post carries a mark naming the user's message it answers,
// so that a room whose turn was in flight when its holder stopped (a kill,
// a crash, a member of a cluster dying) can ask the homeserver whether the
// reply had in fact ended: the record's TurnInFlight is cleared only once
// the last post has returned, and a holder killed between the two left a
// complete reply behind. Without the mark the next holder would tell the
// user their reply was cut when it was not.

type replyEndKey struct{}

// EndingReply marks the posts made with ctx as the last post of the bot's
// reply to the user's message eventID (see MatrixSender.ReplyEnded).
func EndingReply(ctx context.Context, eventID string) context.Context {
	return context.WithValue(ctx, replyEndKey{}, eventID)
}

// ReplyEndOf is the user's message whose reply a post made with ctx ends,
// or "" for any other post.
func ReplyEndOf(ctx context.Context) string {
	id, _ := ctx.Value(replyEndKey{}).(string)
	return id
}
