package matrix

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// roundTripFunc is a transport made of a function, for unit tests.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRetryAfterBody(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     string // Retry-After sent by the server
		body       string
		wantHeader string
	}{
		{"retry_after_ms becomes seconds, rounded up", 429, "", `{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1500}`, "2"},
		{"a whole second", 429, "", `{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1000}`, "1"},
		{"less than a second waits one", 429, "", `{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1}`, "1"},
		{"the server's header wins", 429, "7", `{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1500}`, "7"},
		{"no retry_after_ms", 429, "", `{"errcode":"M_LIMIT_EXCEEDED"}`, ""},
		{"not JSON", 429, "", `<html>slow down</html>`, ""},
		{"not a 429", 503, "", `{"retry_after_ms":1500}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next := roundTripFunc(func(*http.Request) (*http.Response, error) {
				h := http.Header{}
				if tc.header != "" {
					h.Set("Retry-After", tc.header)
				}
				return &http.Response{StatusCode: tc.status, Header: h, Body: io.NopCloser(strings.NewReader(tc.body))}, nil
			})
			req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
			resp, err := retryAfterBody{next: next}.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Header.Get("Retry-After"); got != tc.wantHeader {
				t.Errorf("Retry-After %q, want %q", got, tc.wantHeader)
			}
			if body, _ := io.ReadAll(resp.Body); string(body) != tc.body {
				t.Errorf("body %q, want it unchanged: %q", body, tc.body)
			}
		})
	}
}

// The client Connect builds uses the transport.
func TestConnectHonoursRetryAfterMs(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"user_id":"@bot:hs.test","device_id":"DEV"}`))
	}))
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Connect(ctx, Credentials{Homeserver: ts.URL, UserID: "@bot:hs.test", AccessToken: "tok"},
		newMemState())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.cli.Client.Transport.(retryAfterBody); !ok {
		t.Fatalf("the client's transport is %T, want retryAfterBody", c.cli.Client.Transport)
	}
}

// TestRateLimitIsWaitedOut: a homeserver answering M_LIMIT_EXCEEDED makes a
// send wait and retry, not fail.
func TestRateLimitIsWaitedOut(t *testing.T) {
	var sends atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/account/whoami"):
			_, _ = w.Write([]byte(`{"user_id":"@bot:hs.test","device_id":"DEV"}`))
		case strings.Contains(r.URL.Path, "/send/m.room.message/"):
			if sends.Add(1) == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":1000}`))
				return
			}
			_, _ = w.Write([]byte(`{"event_id":"$sent"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Connect(ctx, Credentials{Homeserver: ts.URL, UserID: "@bot:hs.test", AccessToken: "tok"},
		newMemState())
	if err != nil {
		t.Fatal(err)
	}
	if c.DeviceID() != "DEV" {
		t.Fatalf("device %q", c.DeviceID())
	}
	id, err := c.SendText(ctx, "!r:hs.test", "hello")
	if err != nil {
		t.Fatalf("a rate-limited send failed instead of waiting: %v", err)
	}
	if id != "$sent" || sends.Load() != 2 {
		t.Fatalf("event %q after %d attempts, want $sent after 2", id, sends.Load())
	}
}

// TestObserveRateLimits: every 429 on a post tells the pacer how long it
// asks to wait (the body's retry_after_ms, through retryAfterBody, rounded
// up to whole seconds), even when mautrix's retry then succeeds; a 429 on
// anything else (a join, a state event) is not the pacer's.
func TestObserveRateLimits(t *testing.T) {
	hs := newTestHomeserver(t)
	c := hs.connect(t)
	var waits []time.Duration
	c.WrapTransport(ObserveRateLimits(func(d time.Duration) { waits = append(waits, d) }))
	limitOnce := func(ok string) http.HandlerFunc {
		var n atomic.Int32
		return func(w http.ResponseWriter, _ *http.Request) {
			if n.Add(1) == 1 {
				writeJSON(w, 429, `{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":1}`)
				return
			}
			writeJSON(w, 200, ok)
		}
	}
	hs.handle(t, routeSend, limitOnce(`{"event_id":"$sent"}`))
	hs.handle(t, routeJoin, limitOnce(`{"room_id":"!r:hs.test"}`))
	hs.handle(t, routeState, limitOnce(`{"event_id":"$state"}`))
	ctx := testContext(t)
	if err := c.JoinRoom(ctx, "!r:hs.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetRoomName(ctx, "!r:hs.test", "a name"); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 0 {
		t.Fatalf("the observer saw %v for a join and a state event, want nothing", waits)
	}
	if _, err := c.SendText(ctx, "!r:hs.test", "hello"); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 1 || waits[0] != time.Second {
		t.Fatalf("the observer saw %v, want one 429 asking 1 s", waits)
	}
}

func TestIsPost(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         bool
	}{
		{"PUT", "/_matrix/client/v3/rooms/!r:hs/send/m.room.message/txn1", true},
		{"PUT", "/_matrix/client/v3/rooms/%21r:hs/send/m.room.encrypted/txn1", true},
		{"PUT", "/_matrix/client/v3/rooms/!r:hs/send/m.reaction/txn1", true},
		{"PUT", "/_matrix/client/v3/rooms/!r:hs/state/m.room.name/", false},
		{"PUT", "/_matrix/client/v3/rooms/!r:hs/state/send/x/y", false},
		{"PUT", "/_matrix/client/v3/rooms/!r:hs/typing/@bot:hs", false},
		{"POST", "/_matrix/client/v3/rooms/!r:hs/join", false},
		{"POST", "/_matrix/client/v3/createRoom", false},
		{"PUT", "/_matrix/client/v3/sendToDevice/m.room.encrypted/txn1", false},
		{"GET", "/_matrix/client/v3/rooms/!r:hs/send/m.room.message/txn1", false},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		if got := isPost(req); got != tc.want {
			t.Errorf("isPost(%s %s) = %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
}

// One reading of how long a 429 asks to wait serves the pacer (the header)
// and the courtesy gate (the body, with the header as fallback).
func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header string
		extra  map[string]any
		want   time.Duration
	}{
		{"the body's milliseconds", "", map[string]any{"retry_after_ms": 1500.0}, 1500 * time.Millisecond},
		{"the body wins over the header", "3", map[string]any{"retry_after_ms": 250.0}, 250 * time.Millisecond},
		{"the header's seconds", "2", nil, 2 * time.Second},
		{"a zero in the body: the header", "4", map[string]any{"retry_after_ms": 0.0}, 4 * time.Second},
		{"a header that is no number", "soon", nil, time.Second},
		{"neither", "", nil, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("Retry-After", tc.header)
			}
			if got := retryAfter(h, tc.extra); got != tc.want {
				t.Fatalf("retryAfter = %v, want %v", got, tc.want)
			}
		})
	}
}
