package matrix

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix"
)

// TestCourtesyRequestsBackOffWhenRateLimited: a read receipt or typing
// going on answered 429 is not tried again, and the next ones are skipped
// until its retry_after has passed; typing going off still goes out.
func TestCourtesyRequestsBackOffWhenRateLimited(t *testing.T) {
	hs := newTestHomeserver(t)
	c := hs.connect(t)
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	c.courtesy.now = func() time.Time { return now }
	var limited atomic.Bool
	limited.Store(true)
	limit := func(w http.ResponseWriter, _ *http.Request) {
		if limited.Load() {
			writeJSON(w, 429, `{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":5000}`)
			return
		}
		writeJSON(w, 200, `{}`)
	}
	hs.handle(t, routeReceipt, limit)
	hs.handle(t, routeTyping, limit)
	ctx := testContext(t)
	count := func(part string) int {
		n := 0
		for _, r := range hs.requests() {
			if strings.Contains(r.Path, part) {
				n++
			}
		}
		return n
	}

	if err := c.MarkRead(ctx, "!r:hs.test", "$1"); err == nil {
		t.Fatal("a receipt answered 429 reported no error")
	}
	if n := count("/receipt/"); n != 1 {
		t.Fatalf("a receipt answered 429 was sent %d times, want once", n)
	}
	// Within the 5 s: receipts and typing on are skipped.
	now = now.Add(4 * time.Second)
	if err := c.MarkRead(ctx, "!r:hs.test", "$2"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetTyping(ctx, "!r:hs.test", true, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, m := count("/receipt/"), count("/typing/"); n != 1 || m != 0 {
		t.Fatalf("while rate-limited: %d receipts and %d typing requests, want 1 and 0", n, m)
	}
	// Typing never went on: going off needs no request.
	if err := c.SetTyping(ctx, "!r:hs.test", false, 0); err != nil {
		t.Fatal(err)
	}
	if m := count("/typing/"); m != 0 {
		t.Fatalf("typing off where it never went on made %d requests, want 0", m)
	}
	// Past the retry_after they go out again.
	now = now.Add(2 * time.Second)
	limited.Store(false)
	if err := c.MarkRead(ctx, "!r:hs.test", "$3"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetTyping(ctx, "!r:hs.test", true, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, m := count("/receipt/"), count("/typing/"); n != 2 || m != 1 {
		t.Fatalf("after the retry_after: %d receipts and %d typing requests, want 2 and 1", n, m)
	}
	// Typing going off where it is on is not a courtesy: it goes out, is
	// tried again after a 429, and is not held back by the gate.
	var offs atomic.Int32
	hs.handle(t, routeTyping, func(w http.ResponseWriter, _ *http.Request) {
		if offs.Add(1) == 1 {
			writeJSON(w, 429, `{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":1}`)
			return
		}
		writeJSON(w, 200, `{}`)
	})
	c.courtesy.saw(mautrix.HTTPError{Response: &http.Response{StatusCode: 429}}) // the gate closed
	if err := c.SetTyping(ctx, "!r:hs.test", false, 0); err != nil {
		t.Fatal(err)
	}
	if offs.Load() != 2 {
		t.Fatalf("typing off made %d attempts, want 2 (a 429, then the retry)", offs.Load())
	}
}
