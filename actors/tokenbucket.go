package actors

import "time"

// TokenBucket is an allowance: it holds up to burst tokens and refills at
// rate tokens per second. Two allowances use it: a user's messages (PRODUCT
// R6.2, user_ratelimit.go), one token a message, and the bot's Matrix sends
// (sendbudget.go), one token a post. It is not safe for concurrent use: a
// user's bucket lives in its actor, the send budget guards its own.
type TokenBucket struct {
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

// NewTokenBucket returns a full bucket of burst tokens refilled at rate
// per second.
func NewTokenBucket(rate float64, burst int, now time.Time) *TokenBucket {
	b := float64(max(burst, 1))
	return &TokenBucket{rate: rate, burst: b, tokens: b, last: now}
}

// refill adds the tokens earned since the last call.
func (b *TokenBucket) refill(now time.Time) {
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(b.burst, b.tokens+elapsed*b.rate)
		b.last = now
	}
}

// Take takes a token if one is there at now.
func (b *TokenBucket) Take(now time.Time) bool {
	b.refill(now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// reserve takes a token whether or not one is there (the bucket may go
// negative: callers queue in order of arrival) and returns how long until
// it is due.
func (b *TokenBucket) reserve(now time.Time) time.Duration {
	b.refill(now)
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// giveBack returns a reserved token that was not used.
func (b *TokenBucket) giveBack() { b.tokens = min(b.burst, b.tokens+1) }

// available reports whether take would succeed at now.
func (b *TokenBucket) available(now time.Time) bool {
	b.refill(now)
	return b.tokens >= 1
}

// RetryAfter is how long until the next token, rounded to a second (for a
// notice).
func (b *TokenBucket) RetryAfter() time.Duration {
	missing := 1 - b.tokens
	if missing <= 0 || b.rate <= 0 {
		return 0
	}
	return time.Duration(missing / b.rate * float64(time.Second)).Round(time.Second)
}
