package actors_test

import (
	"net/url"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// Resident actors follow active rooms, not known rooms: an idle room actor
// stops, then its user actor, and the next message brings both back with
// the record as it was (same conversation) and the messages in order.
func TestIdleActorsStopAndComeBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{PassivateAfter: time.Minute})
		tt.addRoom(alice, "!r", "101")
		tt.talk("!r", "hello")
		room := actor.NewPID(tt.System.Address(), actors.RoomActorID(alice, "!r"))
		user := actor.NewPID(tt.System.Address(), actors.RootName+"/user-"+url.PathEscape(alice))
		tt.Probe.Watch(room)
		tt.Probe.Watch(user)

		actortest.Advance(t, 30*time.Second)
		if _, ok := tt.System.ProcessRegistry.Get(room); !ok {
			t.Fatal("the room actor stopped before it was idle for PassivateAfter")
		}
		actortest.Advance(t, time.Minute)
		tt.Probe.ExpectTerminated(room)
		actortest.Advance(t, 2*time.Minute)
		tt.Probe.ExpectTerminated(user)

		for _, text := range []string{"one", "two", "three"} {
			tt.say(alice, "!r", text)
		}
		conn := tt.conn()
		if conn.ChatID != "101" {
			t.Fatalf("the room came back talking at %s, want its conversation 101", conn.ChatID)
		}
		for _, want := range []string{"one", "two", "three"} {
			turn := tt.turn(conn)
			if turn.Msg.Text != want {
				t.Fatalf("turn %q, want %q: order lost across the stop", turn.Msg.Text, want)
			}
			turn.Emit(actortest.Text("ok"), actortest.End(0))
			tt.turnEnded("!r")
		}
	})
}

// A room that is busy (a long turn) is not stopped, however long it runs.
func TestABusyRoomIsNotStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// No typing refresh either: the turn is silent for ten minutes.
		tt := newTestTree(t, actors.Options{PassivateAfter: time.Minute, TypingTimeout: 2 * time.Hour, TypingRefresh: time.Hour})
		tt.addRoom(alice, "!r", "101")
		tt.say(alice, "!r", "a long one")
		turn := tt.turn(tt.conn())
		actortest.Advance(t, 10*time.Minute)
		room := actor.NewPID(tt.System.Address(), actors.RoomActorID(alice, "!r"))
		if _, ok := tt.System.ProcessRegistry.Get(room); !ok {
			t.Fatal("a room with a turn running was stopped")
		}
		turn.Emit(actortest.Text("done"), actortest.End(0))
		tt.turnEnded("!r")
	})
}

// A room actor that crashed and was restarted still stops once idle: its
// next incarnation counts what the user actor sent the crashed one, so the
// two counts agree (kit.ChildIdle).
func TestACrashedRoomStillStopsWhenIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{PassivateAfter: time.Minute, RoomMiddleware: []actor.ReceiverMiddleware{actortest.CrashOnCrash}})
		tt.addRoom(alice, "!r", "101")
		tt.talk("!r", "hello")
		room := actor.NewPID(tt.System.Address(), actors.RoomActorID(alice, "!r"))
		tt.Probe.Watch(room)
		tt.System.Root.Send(room, &actortest.Crash{Reason: "injected crash"})
		tt.Probe.ExpectRestart(room)
		actortest.Advance(t, 3*time.Minute)
		tt.Probe.ExpectTerminated(room)
	})
}
