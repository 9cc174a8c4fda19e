package agents

import (
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// ErrBreakerOpen: the agent failed several dials in a row and is not dialled
// again until its cool-down is over. It is wrapped with
// actors.ErrAgentUnavailable, so the user gets the same plain notice, at
// once instead of after a connect timeout.
var ErrBreakerOpen = errors.New("agent circuit open after repeated failures")

// breaker is one agent's circuit breaker. Closed, every dial goes through;
// after threshold failures in a row it opens for a cool-down (doubling on
// every failed trial, up to maxCooldown, with ±20% jitter so that many bots
// or rooms do not retry in step), during which dials fail at once. After
// the cool-down one trial dial goes through (half-open); its success closes
// the breaker, its failure opens it again. It is safe for concurrent use.
type breaker struct {
	threshold int
	base, max time.Duration

	mu        sync.Mutex
	failures  int
	cooldown  time.Duration
	openUntil time.Time
	trial     bool
}

// allow reports whether a dial may go now; retryIn says when it may if not.
func (b *breaker) allow(now time.Time) (ok bool, retryIn time.Duration) {
	if b.threshold <= 0 {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return true, 0
	}
	if now.Before(b.openUntil) {
		return false, b.openUntil.Sub(now)
	}
	if b.trial {
		return false, b.base // another dial is trying the agent
	}
	b.trial = true
	return true, 0
}

// failed records a failed dial and reports whether the breaker (re)opened.
func (b *breaker) failed(now time.Time) (opened bool, cooldown time.Duration) {
	if b.threshold <= 0 {
		return false, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	b.trial = false
	if b.failures < b.threshold {
		return false, 0
	}
	if b.cooldown == 0 {
		b.cooldown = b.base
	} else {
		b.cooldown = min(2*b.cooldown, b.max)
	}
	jittered := time.Duration(float64(b.cooldown) * (0.8 + 0.4*rand.Float64()))
	b.openUntil = now.Add(jittered)
	return true, jittered
}

// succeeded records a good dial and reports whether it closed an open
// breaker (the agent is back).
func (b *breaker) succeeded() (closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	closed = b.threshold > 0 && b.failures >= b.threshold
	b.failures, b.cooldown, b.trial = 0, 0, false
	return closed
}

// abandoned records a dial given up by its caller (not the agent's fault):
// a half-open trial slot is freed.
func (b *breaker) abandoned() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
}

// CircuitsOpen reports, for every agent dialled so far, whether its circuit
// is open (for the operator's metrics): from the failure that opened it
// until a dial succeeds. A circuit past its cool-down whose trial has not
// gone yet counts as open: nothing has shown the agent back, and an idle
// bot would otherwise report a dead agent healthy after the first
// cool-down (the alert SurfacesAgentCircuitOpen reads this).
func (d *Dialer) CircuitsOpen() map[string]bool {
	out := map[string]bool{}
	d.breakers.Range(func(k, v any) bool {
		b := v.(*breaker)
		b.mu.Lock()
		out[k.(string)] = b.threshold > 0 && b.failures >= b.threshold
		b.mu.Unlock()
		return true
	})
	return out
}
