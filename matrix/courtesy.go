package matrix

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"maunium.net/go/mautrix"
)

// courtesyGate holds back the requests that only show the bot at work, a
// typing notice going on and a read receipt, while the homeserver
// rate-limits them. Dendrite limits exactly these (and joins, invites…),
// not posts: ten users' turns at once sent some 30 of them a second
// against its 10, and with mautrix trying each 429 again a second later
// the bot drew about 290 429s in 6 s, enough to fire the operators' alert
// (SurfacesHomeserverRateLimiting) for a load the replies did not suffer
// from.
//
// So each is tried once, and after a 429 the next ones are skipped until
// its retry_after has passed: a later receipt covers the earlier messages
// (receipts are up to an event), and the room renews typing on its own
// (TypingRefresh). Typing going off keeps its retries, since it takes the
// indicator down after the reply, but goes out only where typing is on: a
// typing notice that was skipped or refused needs no "off" (those offs were
// most of the 429s left).
type courtesyGate struct {
	mu    sync.Mutex
	until time.Time
	now   func() time.Time // time.Now; a variable for tests
	// typing holds the rooms where the homeserver took typing on and has
	// not yet taken it off.
	typing map[string]struct{}
}

// typingOn notes that roomID shows the bot typing.
func (g *courtesyGate) typingOn(roomID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.typing == nil {
		g.typing = map[string]struct{}{}
	}
	g.typing[roomID] = struct{}{}
}

// typingOff reports whether roomID shows the bot typing, and forgets it:
// the caller takes it down (or it times out by itself).
func (g *courtesyGate) typingOff(roomID string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, on := g.typing[roomID]
	delete(g.typing, roomID)
	return on
}

// open reports whether a courtesy request may go out now.
func (g *courtesyGate) open() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.clock().Before(g.until)
}

// saw notes the outcome of a courtesy request: a 429 closes the gate for
// its retry_after (1 s when it gives none).
func (g *courtesyGate) saw(err error) {
	var resp mautrix.HTTPError
	if !errors.As(err, &resp) || !resp.IsStatus(http.StatusTooManyRequests) {
		return
	}
	var h http.Header
	if resp.Response != nil {
		h = resp.Response.Header
	}
	var extra map[string]any
	if resp.RespError != nil {
		extra = resp.RespError.ExtraData
	}
	wait := retryAfter(h, extra)
	g.mu.Lock()
	defer g.mu.Unlock()
	if until := g.clock().Add(wait); until.After(g.until) {
		g.until = until
	}
}

func (g *courtesyGate) clock() time.Time {
	if g.now != nil {
		return g.now()
	}
	return time.Now()
}

// once makes the requests under ctx a single attempt: no retry after a 429
// (or a 502–504), the next courtesy request supersedes this one.
func once(ctx context.Context) context.Context {
	return context.WithValue(ctx, mautrix.MaxAttemptsContextKey, 1)
}
