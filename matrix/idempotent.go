package matrix

import (
	"net/http"
	"time"
)

// PUTRetry tries a PUT again when the homeserver answers 500. Every PUT of
// the client-server API is idempotent: state events and account data are
// set to the same content again, and a message carries its transaction id,
// which the homeserver deduplicates. A 500 there is a passing failure of
// the server (a database busy under load: Dendrite on SQLite answers
// "database is locked (517)" on account data), and failing the bot's work
// for it fails a !new or a reply that the next attempt completes. mautrix
// itself retries only 429 and 502–504; POSTs (createRoom, invite, join)
// are not idempotent and keep their 500.
//
// The bot's client uses BotPUTRetry; the test harness's users use it too,
// with their own schedule.
type PUTRetry struct {
	// Retries is how many times a 500 is tried again.
	Retries int
	// Backoff is the first wait; each next one doubles, up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
}

// BotPUTRetry is the bot's schedule: 250 ms, 0.5, 1, 2, then 4 s six
// times, about 28 s in all. Dendrite on SQLite was seen failing every
// write to one room for 4 s on a busy machine (a kill and restart of the
// bot in the crash test, both cores loaded), where the 1.75 s of three
// retries lost a reply's final text; and for more than 12 s after the bot
// sent to two rooms at once (SQLITE_BUSY_SNAPSHOT, "database is locked
// (517)", on every attempt), where the 12 s of six retries lost the notice
// announcing a new device. A variable for tests.
var BotPUTRetry = PUTRetry{Retries: 10, Backoff: 250 * time.Millisecond, MaxBackoff: 4 * time.Second}

// Transport wraps next with the retries.
func (p PUTRetry) Transport(next http.RoundTripper) http.RoundTripper {
	return putRetrier{p: p, next: next}
}

// putRetrier is PUTRetry's http.RoundTripper.
type putRetrier struct {
	p    PUTRetry
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t putRetrier) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if req.Method != http.MethodPut || (req.Body != nil && req.GetBody == nil) {
		return resp, err
	}
	wait := t.p.Backoff
	for i := 0; i < t.p.Retries && err == nil && resp.StatusCode == http.StatusInternalServerError; i++ {
		timer := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			timer.Stop()
			return resp, err
		case <-timer.C:
		}
		wait = min(2*wait, t.p.MaxBackoff)
		again := req.Clone(req.Context())
		if req.GetBody != nil {
			body, bodyErr := req.GetBody()
			if bodyErr != nil {
				return resp, err
			}
			again.Body = body
		}
		_ = resp.Body.Close()
		resp, err = t.next.RoundTrip(again)
	}
	return resp, err
}
