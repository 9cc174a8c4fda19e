package actors_test

import (
	"testing"
	"testing/synctest"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// TestFencedActivationSendsNothing: a second activation of a room fences
// the first (issue 24: in a cluster the room's grain can be activated twice
// around a membership change; here the test takes the room's epoch as the
// other activation would). The first one's next record write is refused,
// and from then on it sends nothing to Matrix or the agent: its turn is
// cut without a notice, its connection closed, the message it was given
// never stored by it, and it stops.
func TestFencedActivationSendsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.Probe.Subscribe(func(e any) bool { _, ok := e.(*actors.RoomFenced); return ok })
		tt.addRoom(alice, "!r", "1")
		tt.say(alice, "!r", "hello")
		conn := tt.conn()
		turn := tt.turn(conn)
		turn.Emit(actortest.Text("part one"))
		tt.waitCall(0, "SendText", "!r", "part one")
		synctest.Wait()

		// The running actor took an epoch of its own when it started.
		if rec, err := tt.Store.GetRoom(t.Context(), "!r"); err != nil || rec.Epoch != 1 {
			t.Fatalf("the room actor's record is at epoch %d (%v), want 1: starting did not activate it", rec.Epoch, err)
		}
		other, err := tt.Store.ActivateRoom(t.Context(), "!r")
		if err != nil {
			t.Fatal(err)
		}
		m := tt.mark()
		dials := len(tt.Agents.Dials())
		tt.say(alice, "!r", "queued behind") // queued: the room writes its record
		fenced := actortest.FishForMsg(tt.Probe, func(e *actors.RoomFenced) bool { return e.RoomID == "!r" })
		if fenced.Epoch >= other.Epoch {
			t.Fatalf("the fenced activation had epoch %d, the other %d", fenced.Epoch, other.Epoch)
		}
		turn.Emit(actortest.Text(" part two"), actortest.End(0))
		synctest.Wait()

		if calls := tt.Matrix.CallsSince(m, "SendText", "EditText", "SendNotice", "SendFile", "SendReaction"); len(calls) != 0 {
			t.Errorf("the fenced activation sent %+v", calls)
		}
		if !conn.Closed() {
			t.Error("the fenced activation kept its agent connection open")
		}
		if n := len(tt.Agents.Dials()); n != dials {
			t.Errorf("%d dials after the fence, want none", n-dials)
		}
		rec, err := tt.Store.GetRoom(t.Context(), "!r")
		if err != nil {
			t.Fatal(err)
		}
		if rec.Epoch != other.Epoch || len(rec.Queue) != 0 {
			t.Errorf("stored record at epoch %d with %d queued, want the other activation's (epoch %d), untouched",
				rec.Epoch, len(rec.Queue), other.Epoch)
		}
	})
}

// A room actor that starts reports its activation, with the epoch it took
// (surfaces_room_activation_seconds observes Took).
func TestRoomActivationIsPublished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.Probe.Subscribe(func(e any) bool { _, ok := e.(*actors.RoomActivated); return ok })
		tt.addRoom(alice, "!r", "1")
		tt.say(alice, "!r", "hello")
		got := actortest.FishForMsg(tt.Probe, func(e *actors.RoomActivated) bool { return e.RoomID == "!r" })
		if got.Epoch != 1 || got.Took < 0 {
			t.Fatalf("activation %+v, want epoch 1", got)
		}
	})
}
