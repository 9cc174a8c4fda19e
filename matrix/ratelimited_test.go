package matrix

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

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
