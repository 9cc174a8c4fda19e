package actors

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// Without a 429 nothing waits, however many posts (issue 21, point 3).
func TestPacerWithoutRateLimitsNothingWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewSendPacer(RateLimit{})
		start := time.Now()
		for i := range 1000 {
			if err := p.wait(t.Context(), fmt.Sprintf("!r%d", i%50)); err != nil {
				t.Fatal(err)
			}
			p.accept()
		}
		if took := time.Since(start); took != 0 {
			t.Fatalf("1000 posts without a 429 waited %v", took)
		}
	})
}

// A 429 makes every post wait its retry_after and go on at half the rate
// met; the 429s of one burst halve it once, a 429 after the wait halves it
// again; accepted posts bring it back to unlimited within seconds, not
// minutes (issue 21, point 3).
func TestPacerFollowsRateLimitsAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewSendPacer(RateLimit{})
		for range 40 {
			_ = p.wait(t.Context(), "!r")
		}
		p.RateLimited(2 * time.Second)
		for range 3 { // the rest of the burst, answered while the wait runs
			p.RateLimited(time.Second)
		}
		start := time.Now()
		if err := p.wait(t.Context(), "!r"); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < 2*time.Second {
			t.Fatalf("a post after a 429 asking 2 s went out after %v", took)
		}
		if p.rate != 20 {
			t.Fatalf("after a burst of 429s met at 40 posts a second the rate is %v, want 20 (halved once)", p.rate)
		}
		// Past the wait, a 429 means half the rate is still too fast.
		p.RateLimited(time.Second)
		slow := p.rate
		if slow >= 20 || slow < minRate {
			t.Fatalf("after a second 429 the rate is %v, want below 20 and at least %v", slow, minRate)
		}
		// Ten posts at the slow rate take about 10/rate seconds.
		time.Sleep(2 * time.Second)
		start = time.Now()
		for range 10 {
			_ = p.wait(t.Context(), "!r")
		}
		if took, want := time.Duration(float64(time.Second)*9/slow), time.Since(start); want < took {
			t.Fatalf("10 posts at %v a second took %v, want at least %v", slow, want, took)
		}
		// Accepted posts speed it up again, to no limit at all.
		recovered := time.Now()
		for p.rate != 0 && time.Since(recovered) < time.Minute {
			_ = p.wait(t.Context(), "!r")
			p.accept()
		}
		if p.rate != 0 {
			t.Fatalf("the rate stays at %v after a minute of accepted posts, want unlimited again", p.rate)
		}
		start = time.Now()
		for range 100 {
			_ = p.wait(t.Context(), "!r")
		}
		if took := time.Since(start); took != 0 {
			t.Fatalf("after recovering, 100 posts waited %v", took)
		}
	})
}

// One 429 on a quiet bot (one post in the second before) cuts sending to
// minRate; posts at a person's pace, accepted, bring it back to unlimited
// in under 25 s (the first version needed 20 s for its first step up: a
// whole onboarding's welcome messages went out one every 2 s).
func TestPacerRecoversFromALowRateQuickly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewSendPacer(RateLimit{})
		_ = p.wait(t.Context(), "!r")
		p.RateLimited(time.Second)
		if p.rate != minRate {
			t.Fatalf("the rate after a 429 at one post a second is %v, want %v", p.rate, minRate)
		}
		start := time.Now()
		for p.rate != 0 && time.Since(start) < 25*time.Second {
			_ = p.wait(t.Context(), "!r")
			p.accept()
			time.Sleep(300 * time.Millisecond)
		}
		if p.rate != 0 {
			t.Fatalf("25 s after one 429 the rate is %v, want unlimited again", p.rate)
		}
	})
}

// While posts wait, a reply's first message goes before final texts, which
// go before streaming edits; among equals the room served least recently
// goes first, so a busy room delays another room's post by at most one
// (issue 21, point 3).
func TestPacerPrioritiesAndFairness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewSendPacer(RateLimit{Rate: 1, Burst: 1})
		_ = p.wait(t.Context(), "!busy") // the burst is spent: the rest waits
		order := make(chan string, 100)
		post := func(room string, prio SendPriority, name string) {
			go func() {
				if err := p.wait(WithSendPriority(context.Background(), prio), room); err == nil {
					order <- name
				}
			}()
			synctest.Wait()
		}
		for i := range 5 {
			post("!busy", PriorityEdit, fmt.Sprintf("busy edit %d", i))
		}
		for i := range 5 {
			post("!busy", PriorityFinal, fmt.Sprintf("busy final %d", i))
		}
		post("!other", PriorityFinal, "other final")
		post("!new", PriorityFirst, "new first message")
		var got []string
		for range 12 {
			got = append(got, <-order)
		}
		if got[0] != "new first message" {
			t.Fatalf("posts went out as %q: the first message should lead", got)
		}
		if got[1] != "other final" && got[2] != "other final" {
			t.Fatalf("posts went out as %q: the busy room delayed the other room's post by more than one", got)
		}
		for i, name := range got[:7] {
			if len(name) > 9 && name[:9] == "busy edit" {
				t.Fatalf("posts went out as %q: an edit (#%d) went before a final text", got, i)
			}
		}
	})
}
