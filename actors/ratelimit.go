package actors

import (
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors/catalog"
)

// tokenBucket is a user's allowance of messages (PRODUCT R6.2): it holds up
// to burst tokens, refills at rate tokens per second, and each message the
// bot acts on takes one. It belongs to one user actor and is used only from
// its Receive.
type tokenBucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	// noticed is set once the user was told they are over the limit; it is
	// cleared by the next message that gets through, so a burst earns one
	// notice, not one per message.
	noticed bool
}

func newTokenBucket(rate float64, burst int, now time.Time) *tokenBucket {
	return &tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// take reports whether a message at now may go through and, if not, whether
// this is the first refusal of the window (the one that gets a notice).
func (b *tokenBucket) take(now time.Time) (ok, notify bool) {
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(b.burst, b.tokens+elapsed*b.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		b.noticed = false
		return true, false
	}
	notify = !b.noticed
	b.noticed = true
	return false, notify
}

// retryAfter is how long until the next token, for the notice.
func (b *tokenBucket) retryAfter() time.Duration {
	missing := 1 - b.tokens
	if missing <= 0 || b.rate <= 0 {
		return 0
	}
	return time.Duration(missing / b.rate * float64(time.Second)).Round(time.Second)
}

// withinRateLimit takes a token for a message the bot would act on; over
// the limit the message is dropped (never reaching the agent), logged
// without its body, and the first one of the window gets a notice.
func (a *userActor) withinRateLimit(c actor.Context, m *MessageReceived) bool {
	limit := a.opts.RateLimit
	if limit.Rate <= 0 {
		return true
	}
	now := time.Now()
	if a.bucket == nil {
		a.bucket = newTokenBucket(limit.Rate, limit.Burst, now)
	}
	ok, notify := a.bucket.take(now)
	if ok {
		return true
	}
	a.log.Info().Str("room_id", m.RoomID).Str("event_id", m.EventID).Bool("notified", notify).Msg("message over the rate limit dropped")
	c.ActorSystem().EventStream.Publish(&MessageRejected{RoomID: m.RoomID, EventID: m.EventID, Reason: RejectedRateLimited})
	if notify {
		wait := max(1, int(a.bucket.retryAfter().Seconds()))
		a.notice(c, m.RoomID, a.deps.Catalog.T(catalog.RateLimited, "wait", strconv.Itoa(wait)))
	}
	return false
}
