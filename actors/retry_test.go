package actors_test

import (
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

func TestRetryAfterAFailedTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		m := tt.mark()
		tt.say(alice, "!r", "!retry")
		tt.waitCall(m, "SendNotice", "!r", "nothing to retry")

		tt.say(alice, "!r", "summarise the report")
		conn := tt.conn()
		m = tt.mark()
		tt.turn(conn).Emit(actortest.Failed(fmt.Errorf("x: %w", actors.ErrAgentReported), "model overloaded"))
		tt.waitCall(m, "SendNotice", "!r", "model overloaded\n\nSend `!retry` to try again.")
		tt.turnEnded("!r")

		tt.say(alice, "!r", "!RETRY")
		turn := tt.turn(conn)
		if turn.Msg.Text != "summarise the report" {
			t.Fatalf("!retry sent %q, want the failed message again", turn.Msg.Text)
		}
		m = tt.mark()
		turn.Emit(actortest.Text("here it is"), actortest.End(0))
		tt.waitCall(m, "SendText", "!r", "here it is")
		tt.turnEnded("!r")

		m = tt.mark()
		tt.say(alice, "!r", "!retry")
		tt.waitCall(m, "SendNotice", "!r", "nothing to retry")
	})
}

func TestRetryAfterARestartCutTheTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newSeededTree(t, actors.Options{}, func(tt *testTree) {
			r := tt.AddRoom(alice, "!r", "101")
			r.TurnInFlight = &actors.InFlightTurn{EventID: "$cut", Text: "the long question"}
			if err := tt.Store.PutRoom(t.Context(), r); err != nil {
				t.Fatal(err)
			}
		})
		tt.waitCall(0, "SendNotice", "!r", "I restarted while answering, so that reply was cut off.\n\nSend `!retry`")
		tt.say(alice, "!r", "!retry")
		turn := tt.turn(tt.conn())
		if turn.Msg.Text != "the long question" {
			t.Fatalf("!retry after a restart sent %q", turn.Msg.Text)
		}
		turn.Emit(actortest.End(0))
	})
}
