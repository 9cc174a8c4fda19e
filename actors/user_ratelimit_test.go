package actors_test

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// A burst over the bucket gets one notice, and the excess never reaches the
// agent; once the bucket refills, messages go through again.
func TestRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{RateLimit: actors.RateLimit{Rate: 0.5, Burst: 3}, QueueSize: 10})
		tt.addRoom(alice, "!r", "101")
		m := tt.mark()
		var rejected []string
		for i := 1; i <= 6; i++ {
			id := tt.say(alice, "!r", "message "+string(rune('0'+i)))
			if i > 3 {
				rejected = append(rejected, id)
			}
		}
		for _, want := range rejected {
			if got := actortest.FishForMsg(tt.Probe, func(e *actors.MessageRejected) bool { return e.Reason == actors.RejectedRateLimited }); got.EventID != want {
				t.Fatalf("rejected %s, want %s", got.EventID, want)
			}
		}
		synctest.Wait()
		var notices []actortest.Call
		for _, c := range tt.Matrix.CallsSince(m, "SendNotice") {
			if strings.Contains(c.Text, "faster than I can pass them on") {
				notices = append(notices, c)
			}
		}
		if len(notices) != 1 || !strings.Contains(notices[0].Text, "in 2 s") {
			t.Fatalf("rate limit notices %+v, want exactly one saying 2 s", notices)
		}

		// Two seconds later one token is back: the next message goes through.
		actortest.Advance(t, 2*time.Second)
		tt.say(alice, "!r", "after the wait")
		conn := tt.conn()
		var got []string
		for range 4 {
			turn := tt.turn(conn)
			got = append(got, turn.Msg.Text)
			turn.Emit(actortest.End(0))
		}
		if want := []string{"message 1", "message 2", "message 3", "after the wait"}; !slices.Equal(got, want) {
			t.Fatalf("the agent got %q, want %q", got, want)
		}
		synctest.Wait()
		tt.noTurn(conn, "a message over the limit reached the agent")
	})
}

func TestNoRateLimitByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{QueueSize: 50})
		tt.addRoom(alice, "!r", "101")
		for range 30 {
			tt.say(alice, "!r", "flood")
		}
		conn := tt.conn()
		for range 30 {
			tt.turn(conn).Emit(actortest.End(0))
		}
	})
}
