package actors

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// SendPacer paces the bot's posts to rooms (messages, edits, notices,
// reactions, files) by what the homeserver says, not by a constant:
//
//   - adaptive: nothing waits until the homeserver answers a post with 429
//     (RateLimited); then every post waits out its retry_after, sending goes
//     on at half the rate seen before, and doubles again every climbEvery
//     in which posts were accepted and none refused, until it is unlimited
//     again. The 429s that answer one burst (all met before its retry_after
//     ran out) halve it once. An operator's ceiling (matrix.send_rate) caps
//     it throughout.
//   - priorities: while posts wait, a reply's first message goes before
//     final texts and notices, which go before streaming edits (which a
//     room skips anyway while posts wait, coalescing its text into the next;
//     see roomActor.pump).
//   - fairness: among posts of one priority, the room served least recently
//     goes first, so one busy room cannot starve the others.
//
// It is safe for concurrent use.
type SendPacer struct {
	ceiling RateLimit

	mu sync.Mutex
	// rate is the current allowance (posts a second), 0 for none; bucket
	// holds its tokens.
	rate   float64
	bucket *TokenBucket
	// pausedUntil is the end of the homeserver's last retry_after.
	pausedUntil time.Time
	// changed is when the rate last changed (for a 429: when its wait
	// ends); it doubles climbEvery after that if posts were accepted.
	changed time.Time
	// sent holds the times of the recent posts, to know the rate a 429 met.
	sent []time.Time

	waiting []*sendWaiter
	served  map[string]uint64 // room → the grant that served it last
	grants  uint64
	timer   *time.Timer
}

// Priorities of a post; lower goes first.
type SendPriority int

const (
	PriorityFirst SendPriority = iota // a reply's first message
	PriorityFinal                     // a final text, a notice, a file, a reaction
	PriorityEdit                      // a streaming edit
)

type sendPriorityKey struct{}

// WithSendPriority marks the posts made with ctx.
func WithSendPriority(ctx context.Context, p SendPriority) context.Context {
	return context.WithValue(ctx, sendPriorityKey{}, p)
}

func priorityOf(ctx context.Context) SendPriority {
	if p, ok := ctx.Value(sendPriorityKey{}).(SendPriority); ok {
		return p
	}
	return PriorityFinal
}

type sendWaiter struct {
	priority SendPriority
	room     string
	granted  chan struct{}
}

// The adaptive rate's bounds: after a 429 sending goes on at half the rate
// seen in the second before (at least minRate), it doubles every climbEvery
// without a 429, and past maxRate it is unlimited again.
//
// The climb is by time, not by a count of posts: counting, a rate cut to
// minRate by one 429 needed 20 s for its first step up and over a minute to
// be unlimited again, while every reply's final text waited behind it. By
// time it is unlimited again some 20 s after the last 429, whatever the
// traffic; if that is too fast for the homeserver, its next 429 halves it.
const (
	minRate    = 0.5
	maxRate    = 200
	climbEvery = 2 * time.Second
)

// NewSendPacer returns a pacer under ceiling (a zero Rate: none).
func NewSendPacer(ceiling RateLimit) *SendPacer {
	p := &SendPacer{ceiling: ceiling, served: map[string]uint64{}}
	if ceiling.Rate > 0 {
		p.setRateLocked(ceiling.Rate, time.Now())
	}
	return p
}

// setRateLocked sets the allowance (0: none), capped by the ceiling.
func (p *SendPacer) setRateLocked(rate float64, now time.Time) {
	if p.ceiling.Rate > 0 && (rate == 0 || rate > p.ceiling.Rate) {
		rate = p.ceiling.Rate
	}
	p.rate, p.changed = rate, now
	if rate == 0 {
		p.bucket = nil
		return
	}
	burst := max(1, int(rate))
	if p.ceiling.Rate > 0 && rate == p.ceiling.Rate {
		burst = max(p.ceiling.Burst, 1)
	}
	tokens := 0.0
	if p.bucket != nil {
		p.bucket.refill(now)
		tokens = min(p.bucket.tokens, float64(burst))
	} else if p.ceiling.Rate > 0 && rate == p.ceiling.Rate && p.pausedUntil.IsZero() {
		tokens = float64(burst) // the operator's ceiling starts full
	}
	p.bucket = &TokenBucket{rate: rate, burst: float64(burst), tokens: tokens, last: now}
}

// RateLimited tells the pacer the homeserver answered a post with 429 and
// asked to wait retryAfter: every post waits that long, then goes on at half
// the rate of the second before. A 429 met while an earlier one's wait runs
// answers the same burst (posts already on their way): it may lengthen the
// wait but does not halve the rate again.
func (p *SendPacer) RateLimited(retryAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	sameBurst := now.Before(p.pausedUntil)
	if until := now.Add(retryAfter); until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
	if !sameBurst {
		seen := float64(p.recentLocked(now))
		if p.rate > 0 {
			seen = min(seen, p.rate)
		}
		p.setRateLocked(max(seen/2, minRate), now)
	}
	p.changed = p.pausedUntil
	p.dispatchLocked(now)
}

// recentLocked is how many posts went out in the second before now.
func (p *SendPacer) recentLocked(now time.Time) int {
	cut := 0
	for cut < len(p.sent) && now.Sub(p.sent[cut]) > time.Second {
		cut++
	}
	p.sent = p.sent[cut:]
	return len(p.sent)
}

// accept notes a post the homeserver accepted: climbEvery after the rate
// last changed, with no 429 since, the rate doubles.
func (p *SendPacer) accept() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rate == 0 || (p.ceiling.Rate > 0 && p.rate >= p.ceiling.Rate) {
		return
	}
	now := time.Now()
	if now.Sub(p.changed) < climbEvery {
		return
	}
	rate := p.rate * 2
	if rate > maxRate {
		rate = 0
	}
	p.setRateLocked(rate, now)
	p.dispatchLocked(now)
}

// canSendLocked reports whether a post may go out at now.
func (p *SendPacer) canSendLocked(now time.Time) bool {
	return !now.Before(p.pausedUntil) && (p.bucket == nil || p.bucket.available(now))
}

func (p *SendPacer) takeLocked(now time.Time, room string) {
	if p.bucket != nil {
		p.bucket.Take(now)
	}
	p.grants++
	p.served[room] = p.grants
	p.sent = append(p.sent, now)
	p.recentLocked(now)
}

// wait blocks until a post of priority into room may go out. A nil pacer
// never waits.
func (p *SendPacer) wait(ctx context.Context, room string) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	now := time.Now()
	if len(p.waiting) == 0 && p.canSendLocked(now) {
		p.takeLocked(now, room)
		p.mu.Unlock()
		return nil
	}
	w := &sendWaiter{priority: priorityOf(ctx), room: room, granted: make(chan struct{})}
	p.waiting = append(p.waiting, w)
	p.dispatchLocked(now)
	p.mu.Unlock()
	select {
	case <-w.granted:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		defer p.mu.Unlock()
		select {
		case <-w.granted:
			if p.bucket != nil {
				p.bucket.giveBack()
			}
		default:
			p.remove(w)
		}
		return fmt.Errorf("failed to wait for the send pacer: %w", context.Cause(ctx))
	}
}

func (p *SendPacer) remove(w *sendWaiter) {
	for i, x := range p.waiting {
		if x == w {
			p.waiting = append(p.waiting[:i], p.waiting[i+1:]...)
			return
		}
	}
}

// next picks the waiter to serve: the best priority, then the room served
// least recently, then the oldest.
func (p *SendPacer) next() *sendWaiter {
	var best *sendWaiter
	for _, w := range p.waiting {
		if best == nil || w.priority < best.priority ||
			(w.priority == best.priority && p.served[w.room] < p.served[best.room]) {
			best = w
		}
	}
	return best
}

// dispatchLocked serves the waiters that may go now and sets a timer for
// the next one.
func (p *SendPacer) dispatchLocked(now time.Time) {
	for len(p.waiting) > 0 && p.canSendLocked(now) {
		w := p.next()
		p.remove(w)
		p.takeLocked(now, w.room)
		close(w.granted)
	}
	if len(p.waiting) == 0 {
		return
	}
	due := max(p.pausedUntil.Sub(now), 0)
	if p.bucket != nil && p.bucket.tokens < 1 {
		due = max(due, time.Duration((1-p.bucket.tokens)/p.bucket.rate*float64(time.Second)))
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	p.timer = time.AfterFunc(max(due, time.Millisecond), func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.dispatchLocked(time.Now())
	})
}

// Available reports whether a post now would not wait: a streaming edit
// goes out only then. A nil pacer is always available.
func (p *SendPacer) Available() bool {
	if p == nil {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiting) == 0 && p.canSendLocked(time.Now())
}
