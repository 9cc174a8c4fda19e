package user

import (
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
)

// withinRateLimit takes a token for a message the bot would act on; over
// the limit the message is dropped (never reaching the agent), logged
// without its body, and the first one of the window gets a notice.
func (a *userActor) withinRateLimit(c actor.Context, m *actors.MessageReceived) bool {
	limit := a.opts.RateLimit
	if limit.Rate <= 0 {
		return true
	}
	now := time.Now()
	if a.bucket == nil {
		a.bucket = actors.NewTokenBucket(limit.Rate, limit.Burst, now)
	}
	if a.bucket.Take(now) {
		a.rateNoticed = false
		return true
	}
	// One notice a window: cleared by the next message that gets through.
	notify := !a.rateNoticed
	a.rateNoticed = true
	a.log.Info().Str("room_id", m.RoomID).Str("event_id", m.EventID).Bool("notified", notify).Msg("message over the rate limit dropped")
	c.ActorSystem().EventStream.Publish(&actors.MessageRejected{RoomID: m.RoomID, EventID: m.EventID, Reason: actors.RejectedRateLimited})
	if notify {
		wait := max(1, int(a.bucket.RetryAfter().Seconds()))
		a.notice(c, m.RoomID, a.deps.Catalog.T(catalog.RateLimited, "wait", strconv.Itoa(wait)))
	}
	return false
}
