package actors_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// A room handed over (its grain moves to another member) finishes the turn
// it runs, starts none of those waiting, and stops once the turn's record
// landed (its next activation's new epoch must not refuse it); the waiting
// message stays in the record for the next activation.
// An idle room handed over stops at once.
func TestAHandedOverRoomFinishesItsTurnThenStops(t *testing.T) {
	t.Run("mid-turn", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			k := actortest.NewKit(t)
			room := k.SpawnRoom(actortest.Room(alice, "!r", "5", 1))
			k.Probe.Watch(room)
			k.Probe.Send(room, &actors.StartTurn{EventID: "$one", Sender: alice, Text: "first"})
			conn := k.NextConn()
			turn := k.NextTurn(conn)
			k.Probe.Send(room, &actors.StartTurn{EventID: "$two", Sender: alice, Text: "second"})
			k.Probe.Send(room, &kit.Handover{})
			synctest.Wait()
			mark := k.Matrix.Mark()
			turn.Emit(actortest.Text("answer"), actortest.End(1))
			k.Probe.ExpectTerminated(room)
			k.WaitCall(mark, "SendText", "!r", "answer")
			if next, ok := conn.TryNextTurn(); ok {
				t.Fatalf("a handed-over room started %q", next.Msg.Text)
			}
			rec, err := k.Store.GetRoom(context.Background(), "!r")
			if err != nil {
				t.Fatal(err)
			}
			if rec.TurnInFlight != nil || len(rec.Queue) != 1 || rec.Queue[0].EventID != "$two" {
				t.Fatalf("record after the hand-over: in flight %+v, queue %+v; want none in flight and $two queued", rec.TurnInFlight, rec.Queue)
			}
			for _, c := range k.Matrix.CallsSince(mark, "SendNotice") {
				t.Fatalf("a notice on a hand-over: %q", c.Text)
			}
		})
	})
	t.Run("idle", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			k := actortest.NewKit(t)
			room := k.SpawnRoom(actortest.Room(alice, "!r", "5", 1))
			k.Probe.Watch(room)
			synctest.Wait()
			k.Probe.Send(room, &kit.Handover{})
			k.Probe.ExpectTerminated(room)
		})
	})
}
