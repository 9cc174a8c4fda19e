package matrix

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix"
)

// answer is one response of a scripted homeserver.
type answer struct {
	status     int
	retryAfter string // Retry-After header, "" for none
	body       string
}

var (
	rateLimited = `{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":1}`
	sent        = answer{200, "", `{"event_id":"$sent"}`}
)

// TestSendRetries: mautrix retries 429 and the gateway errors 502–504,
// waiting Retry-After ("0" here, so the test does not wait; without the
// header it waits the body's retry_after_ms, see retryAfterBody, or backs
// off 4 s, doubling), up to 1+DefaultHTTPRetries (5) attempts in all, with
// the same transaction id. A 500 on a PUT is tried again 10 times (see
// BotPUTRetry); other errors are final at once.
func TestSendRetries(t *testing.T) {
	always := func(a answer) []answer { return []answer{a, a, a, a, a, a, a} }
	tests := []struct {
		name         string
		script       []answer
		wantAttempts int
		wantStatus   int    // of the final error; 0: the send succeeds
		wantCode     string // the final error's errcode, "" for a body without one
	}{
		{"429 then success", []answer{{429, "0", rateLimited}, sent}, 2, 0, ""},
		{"429 with only retry_after_ms then success", []answer{{429, "", rateLimited}, sent}, 2, 0, ""},
		{"502 then success", []answer{{502, "0", "Bad Gateway"}, sent}, 2, 0, ""},
		{"503 then success", []answer{{503, "0", "Service Unavailable"}, sent}, 2, 0, ""},
		{"504 then success", []answer{{504, "0", "Gateway Timeout"}, sent}, 2, 0, ""},
		{"429 four times then success", []answer{
			{429, "0", rateLimited}, {429, "0", rateLimited}, {429, "0", rateLimited}, {429, "0", rateLimited}, sent,
		}, 5, 0, ""},
		{"429 forever gives up after 5 attempts", always(answer{429, "0", rateLimited}), 5, 429, "M_LIMIT_EXCEEDED"},
		{"502 forever gives up after 5 attempts", always(answer{502, "0", "Bad Gateway"}), 5, 502, ""},
		{"500 on a PUT then success", []answer{{500, "", `{"errcode":"M_UNKNOWN","error":"database is locked"}`}, sent}, 2, 0, ""},
		{"500 on a PUT forever gives up after 11 attempts", always(answer{500, "0", `{"errcode":"M_UNKNOWN","error":"boom"}`}), 11, 500, "M_UNKNOWN"},
		{"400 is not retried", always(answer{400, "", `{"errcode":"M_BAD_JSON","error":"bad"}`}), 1, 400, "M_BAD_JSON"},
	}
	schedule := BotPUTRetry
	BotPUTRetry.Backoff = time.Millisecond
	t.Cleanup(func() { BotPUTRetry = schedule })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			var n atomic.Int32
			hs.handle(t, routeSend, func(w http.ResponseWriter, _ *http.Request) {
				a := tc.script[min(int(n.Add(1))-1, len(tc.script)-1)]
				if a.retryAfter != "" {
					w.Header().Set("Retry-After", a.retryAfter)
				}
				writeJSON(w, a.status, a.body)
			})
			id, err := c.SendText(testContext(t), "!r:hs.test", "hello")
			if tc.wantStatus == 0 {
				if err != nil || id != "$sent" {
					t.Fatalf("send returned %q, %v; want $sent", id, err)
				}
			} else {
				var httpErr mautrix.HTTPError
				if !errors.As(err, &httpErr) || httpErr.Response == nil || httpErr.Response.StatusCode != tc.wantStatus {
					t.Fatalf("error %v, want the final HTTP %d", err, tc.wantStatus)
				}
				if code := errcode(httpErr); code != tc.wantCode {
					t.Fatalf("error %v has errcode %q, want %q", err, code, tc.wantCode)
				}
			}
			reqs := hs.requests()
			if len(reqs) != tc.wantAttempts {
				t.Fatalf("%d attempts, want %d", len(reqs), tc.wantAttempts)
			}
			for _, r := range reqs {
				wantRequest(t, r, "PUT", reqs[0].Path, `{"msgtype":"m.text","body":"hello","m.mentions":{}}`)
			}
		})
	}
}

func errcode(e mautrix.HTTPError) string {
	if e.RespError == nil {
		return ""
	}
	return e.RespError.ErrCode
}

// TestSendRetryEndsWithContext: a homeserver that keeps rate limiting
// (Retry-After 0 s, then 60 s) makes the send wait, but only as long as its
// context: it returns an error wrapping the context's error instead of
// hanging.
func TestSendRetryEndsWithContext(t *testing.T) {
	tests := []struct {
		name string
		// ctx returns the send's context; answered receives each 429 served.
		ctx          func(t *testing.T, answered <-chan int) context.Context
		wantErr      error
		wantAttempts func(n int) bool
		attempts     string
	}{
		{
			name: "cancelled while waiting to retry",
			ctx: func(t *testing.T, answered <-chan int) context.Context {
				ctx, cancel := context.WithCancel(testContext(t))
				go func() {
					defer cancel()
					for {
						select {
						case n := <-answered:
							if n == 2 {
								return
							}
						case <-ctx.Done():
							return
						}
					}
				}()
				return ctx
			},
			wantErr:      context.Canceled,
			wantAttempts: func(n int) bool { return n == 2 },
			attempts:     "2: the test cancels after the second, a third would come 60 s later",
		},
		{
			name: "deadline passes while waiting to retry",
			ctx: func(t *testing.T, _ <-chan int) context.Context {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				t.Cleanup(cancel)
				return ctx
			},
			wantErr:      context.DeadlineExceeded,
			wantAttempts: func(n int) bool { return n <= 2 },
			attempts:     "at most 2: a third would come 60 s later",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			answered := make(chan int, 10)
			var n atomic.Int32
			hs.handle(t, routeSend, func(w http.ResponseWriter, _ *http.Request) {
				i := int(n.Add(1))
				retryAfter := "60"
				if i == 1 {
					retryAfter = "0"
				}
				w.Header().Set("Retry-After", retryAfter)
				writeJSON(w, 429, `{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":60000}`)
				answered <- i
			})
			ctx := tc.ctx(t, answered)
			err := within(t, 30*time.Second, "a send to a homeserver that keeps answering 429", func() error {
				_, err := c.SendText(ctx, "!r:hs.test", "hello")
				return err
			})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want one wrapping %v", err, tc.wantErr)
			}
			if got := len(hs.requests()); !tc.wantAttempts(got) {
				t.Fatalf("%d attempts, want %s", got, tc.attempts)
			}
		})
	}
}

// TestSendServerGone: a send to a homeserver that went away (the port
// refuses connections, or the server accepts and never answers) ends with
// the caller's context instead of hanging.
func TestSendServerGone(t *testing.T) {
	tests := []struct {
		name string
		gone func(t *testing.T, hs *testHomeserver)
	}{
		{"server closed", func(_ *testing.T, hs *testHomeserver) { hs.close() }},
		{"server never answers", func(t *testing.T, hs *testHomeserver) {
			hs.handle(t, routeSend, func(_ http.ResponseWriter, r *http.Request) { hs.block(r) })
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			tc.gone(t, hs)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			err := within(t, 30*time.Second, "a send to a homeserver that went away", func() error {
				_, err := c.SendText(ctx, "!r:hs.test", "hello")
				return err
			})
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "failed to send to !r:hs.test") {
				t.Fatalf("error %v, want a failed send wrapping the context's deadline", err)
			}
		})
	}
}

// TestPostIsNotRetriedOn500: a POST (join, invite, createRoom) is not
// idempotent, so its 500 is final at once.
func TestPostIsNotRetriedOn500(t *testing.T) {
	hs := newTestHomeserver(t)
	c := hs.connect(t)
	hs.handle(t, routeJoin, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 500, `{"errcode":"M_UNKNOWN","error":"boom"}`)
	})
	if err := c.JoinRoom(testContext(t), "!r:hs.test"); err == nil {
		t.Fatal("a join answered 500 succeeded")
	}
	if n := len(hs.requests()); n != 1 {
		t.Fatalf("%d attempts of a POST answered 500, want 1", n)
	}
}
