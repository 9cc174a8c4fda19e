package matrix

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxErrorBody bounds how much of a 429 body is read to find retry_after_ms.
const maxErrorBody = 64 << 10

// retryAfterBody makes the client wait as long as a rate-limited homeserver
// asks. mautrix v0.31 reads only the Retry-After header and otherwise backs
// off 4 s, 8 s, 16 s…; Dendrite (and older Synapse) say how long in the
// M_LIMIT_EXCEEDED body's retry_after_ms instead. This transport copies that
// value into a Retry-After header (rounded up to whole seconds, the header's
// unit) when the server sent none, and leaves the body readable as before.
type retryAfterBody struct{ next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t retryAfterBody) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "" {
		return resp, err
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if readErr != nil {
		return resp, nil // mautrix falls back to its own backoff
	}
	var limit struct {
		RetryAfterMs int64 `json:"retry_after_ms"`
	}
	if json.Unmarshal(body, &limit) != nil || limit.RetryAfterMs <= 0 {
		return resp, nil
	}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	resp.Header.Set("Retry-After", strconv.FormatInt((limit.RetryAfterMs+999)/1000, 10))
	return resp, nil
}

// withRetries wraps c's transport (the default one if unset) in
// retryAfterBody and BotPUTRetry.
func withRetries(c *http.Client) {
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = retryAfterBody{next: BotPUTRetry.Transport(next)}
}

// ObserveRateLimits returns a transport wrapper (for Client.WrapTransport)
// that tells f how long each 429 on a post asks to wait (its Retry-After,
// which retryAfterBody fills from the body's retry_after_ms; 1 s when
// neither is given), whether or not the retry that follows succeeds: the
// send pacer slows all posts down by it (actors.SendPacer.RateLimited).
//
// Only posts count (PUT …/send/…, the requests the pacer paces). Synapse
// limits each kind of request on its own (rc_message, rc_joins,
// rc_invites…), so a refused join says nothing about posting; slowing every
// reply down for it once held a whole onboarding's welcome messages to one
// every 2 s. Where one limit covers everything (Dendrite), the next post
// meets its own 429 soon enough.
func ObserveRateLimits(f func(retryAfter time.Duration)) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper {
		return rateLimitObserver{next: next, f: f}
	}
}

type rateLimitObserver struct {
	next http.RoundTripper
	f    func(time.Duration)
}

// RoundTrip implements http.RoundTripper.
func (o rateLimitObserver) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests && isPost(req) {
		o.f(retryAfter(resp.Header, nil))
	}
	return resp, err
}

// retryAfter is how long a 429 asks to wait: the retry_after_ms of its
// body (extra, the error's fields beyond errcode and error) when given,
// else its Retry-After header (whole seconds; retryAfterBody fills it from
// the body when the server sent none), else a second.
func retryAfter(h http.Header, extra map[string]any) time.Duration {
	if ms, ok := extra["retry_after_ms"].(float64); ok && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	return time.Second
}

// isPost reports whether req posts an event in a room:
// PUT /_matrix/client/…/rooms/{room}/send/{type}/{txn}.
func isPost(req *http.Request) bool {
	if req.Method != http.MethodPut {
		return false
	}
	_, rest, ok := strings.Cut(req.URL.EscapedPath(), "/rooms/")
	if !ok {
		return false
	}
	parts := strings.Split(rest, "/")
	return len(parts) == 4 && parts[1] == "send"
}
