package matrix

import (
	"net/http"
	"time"
)

// retryIdempotentPUT tries a PUT again when the homeserver answers 500.
// Every PUT of the client-server API the bot makes is idempotent: state
// events and account data are set to the same content again, and a message
// carries its transaction id, which the homeserver deduplicates. A 500
// there is a passing failure of the server (a database busy under load:
// Dendrite on SQLite answers "database is locked (517)" on account data),
// and failing the bot's work for it fails a !new or a reply that the next
// attempt completes. mautrix itself retries only 429 and 502–504; POSTs
// (createRoom, invite, join) are not idempotent and keep their 500.
type retryIdempotentPUT struct{ next http.RoundTripper }

// putRetries and putBackoff: a 500 on a PUT is tried again putRetries times,
// after putBackoff, then twice that, up to putMaxBackoff (variables for
// tests): 250 ms, 0.5, 1, 2, 4 and 4 s, about 12 s in all. Dendrite on
// SQLite was seen failing every write to one room for 4 s on a busy
// machine (a kill and restart of the bot in the crash test, both cores
// loaded); the 1.75 s of three retries lost a reply's final text there.
var (
	putRetries    = 6
	putBackoff    = 250 * time.Millisecond
	putMaxBackoff = 4 * time.Second
)

// RoundTrip implements http.RoundTripper.
func (t retryIdempotentPUT) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if req.Method != http.MethodPut || (req.Body != nil && req.GetBody == nil) {
		return resp, err
	}
	wait := putBackoff
	for i := 0; i < putRetries && err == nil && resp.StatusCode == http.StatusInternalServerError; i++ {
		timer := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			timer.Stop()
			return resp, err
		case <-timer.C:
		}
		wait = min(2*wait, putMaxBackoff)
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
