package actors_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/catalog"
)

// A thousand rooms stream at once against a homeserver that refuses more
// than 20 posts a second: the bot-wide send budget (10 a second) keeps every
// post under the limit, the rooms coalesce their edits instead, and the
// final text of every reply arrives whole. Without the budget the same load
// meets M_LIMIT_EXCEEDED (checked by TestWithoutSendBudgetTheLimitIsMet).
func TestSendBudgetUnderAThousandStreamingRooms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rooms = 1000
		exceeded, finals, undelivered, posts := streamRooms(t, rooms, actors.RateLimit{Rate: 10, Burst: 20})
		t.Logf("%d rooms: %d messages and edits posted", rooms, posts)
		if exceeded != 0 {
			t.Errorf("%d posts met M_LIMIT_EXCEEDED under the send budget", exceeded)
		}
		if undelivered != 0 {
			t.Errorf("%d rooms were told part of their reply was not delivered", undelivered)
		}
		if finals != rooms {
			t.Errorf("%d of %d rooms show their whole final text", finals, rooms)
		}
		// Without coalescing each room would post 1 message + 10 edits.
		if posts >= rooms*11 {
			t.Errorf("%d posts for %d rooms: edits were not coalesced", posts, rooms)
		}
	})
}

// The control of the test above: the same load without a budget is refused
// by the homeserver, so the test above can fail.
func TestWithoutSendBudgetTheLimitIsMet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exceeded, _, _, _ := streamRooms(t, 200, actors.RateLimit{})
		if exceeded == 0 {
			t.Fatal("200 streaming rooms without a send budget never met the homeserver's limit; the limit in the fake is not biting")
		}
	})
}

// streamRooms runs one streamed turn in each of n rooms against a fake
// homeserver limited to 20 posts a second and returns how many posts were
// refused, how many rooms ended showing their whole text, how many were
// told of an undelivered part, and how many posts went through.
func streamRooms(t *testing.T, n int, budget actors.RateLimit) (exceeded, finals, undelivered, posts int) {
	tt := newTestTree(t, actors.Options{SendBudget: budget, EditInterval: time.Second, QueueSize: 2})
	tt.Matrix.RateLimit(20, 40)
	for i := range n {
		tt.addRoom(fmt.Sprintf("@u%d:example.test", i), fmt.Sprintf("!r%d", i), fmt.Sprint(1000+i))
	}
	for i := range n {
		tt.say(fmt.Sprintf("@u%d:example.test", i), fmt.Sprintf("!r%d", i), "go")
	}
	turns := map[string]*actortest.Turn{} // by chat id
	for range n {
		c := tt.conn()
		turns[c.ChatID] = tt.turn(c)
	}
	const chunks = 10
	for k := range chunks {
		for _, turn := range turns {
			turn.Emit(actortest.Text(fmt.Sprintf("part %d. ", k)))
		}
		actortest.Advance(t, time.Second)
	}
	for _, turn := range turns {
		turn.Emit(actortest.End(0))
	}
	// At 10 posts a second, a thousand first messages and final edits
	// take minutes; the clock is virtual.
	actortest.Advance(t, 30*time.Minute)
	for range n {
		actortest.FishForMsg(tt.Probe, func(*actors.TurnEnded) bool { return true })
	}
	actortest.Advance(t, time.Minute) // the notices sent after the turns
	want := ""
	for k := range chunks {
		want += fmt.Sprintf("part %d. ", k)
	}
	last := map[string]string{}
	for _, c := range tt.Matrix.Calls("SendText", "EditText") {
		last[c.RoomID] = c.Text
		posts++
	}
	for i := range n {
		if got := last[fmt.Sprintf("!r%d", i)]; got == want {
			finals++
		} else if i == 0 {
			t.Logf("room !r0 ends showing %q", got)
		}
	}
	for _, c := range tt.Matrix.Calls("SendNotice") {
		if c.Text == tt.Catalog.T(catalog.Undelivered) {
			undelivered++
		}
	}
	return tt.Matrix.Exceeded(), finals, undelivered, posts
}

// With sending held back by a 429, a new reply's first message goes out
// before another room's queued final text (issue 21, point 3).
func TestAFirstMessageGoesBeforeQueuedPosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pacer := actors.NewSendPacer(actors.RateLimit{})
		tt := newSeededTree(t, actors.Options{EditInterval: time.Second}, func(tt *testTree) {
			tt.Pacer = pacer
			tt.addRoom(alice, "!a", "101")
			tt.addRoom(bob, "!b", "102")
		})
		tt.say(alice, "!a", "write a lot")
		a := tt.turn(tt.conn())
		m := tt.mark()
		a.Emit(actortest.Text("partial answer"))
		tt.waitCall(m, "SendText", "!a", "partial answer")
		// Room b was served after room a: fairness alone would put a first.
		tt.say(bob, "!b", "!usage")
		tt.waitCall(m, "SendNotice", "!b", "")
		synctest.Wait()

		pacer.RateLimited(2 * time.Second) // everything waits now
		a.Emit(actortest.Text(" and the rest"), actortest.End(0))
		tt.say(bob, "!b", "quick question")
		b := tt.turn(tt.conn())
		b.Emit(actortest.Text("quick answer"), actortest.End(0))
		synctest.Wait()
		m = tt.mark()
		actortest.Advance(t, 3*time.Second)
		first := tt.waitCall(m, "SendText", "!b", "quick answer")
		final := tt.waitCall(m, "EditText", "!a", "and the rest")
		if first.Seq > final.Seq {
			t.Fatalf("room b's first message went out after room a's final text (%d > %d)", first.Seq, final.Seq)
		}
	})
}
