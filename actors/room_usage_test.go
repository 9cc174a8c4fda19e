package actors_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

func TestUsage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		tt.addRoom(alice, "!other", "102")
		m := tt.mark()
		tt.say(alice, "!r", "!usage")
		none := tt.waitCall(m, "SendNotice", "!r", "This chat")
		if !strings.Contains(none.Text, "0 tokens in 0 turns; first reply after — (median)") {
			t.Fatalf("!usage before any turn: %q", none.Text)
		}

		conn := (*actortest.Conn)(nil)
		for i, tokens := range []int64{10, 20, 30} {
			tt.say(alice, "!r", "question")
			if conn == nil {
				conn = tt.conn()
			}
			turn := tt.turn(conn)
			actortest.Advance(t, time.Duration(i+1)*time.Second) // first text after 1 s, 2 s, 3 s
			turn.Emit(actortest.Text("answer"), actortest.End(tokens))
			tt.turnEnded("!r")
		}
		tt.say(alice, "!other", "elsewhere")
		other := tt.turn(tt.conn())
		other.Emit(actortest.Text("x"), actortest.End(5))
		tt.turnEnded("!other")
		synctest.Wait()

		m = tt.mark()
		tt.say(alice, "!r", "!usage")
		got := tt.waitCall(m, "SendNotice", "!r", "This chat")
		for _, want := range []string{
			"**This chat:** 60 tokens in 3 turns; first reply after 2.0 s (median)",
			"**All your chats:** 65 tokens in 4 turns; first reply after 1.5 s (median)", // 0, 1, 2, 3 s,
		} {
			if !strings.Contains(got.Text, want) {
				t.Fatalf("!usage %q lacks %q", got.Text, want)
			}
		}
		m = tt.mark()
		tt.say(alice, "!r", "!context")
		tt.waitCall(m, "SendNotice", "!r", "usage: 60 tokens in 3 turns")
	})
}
