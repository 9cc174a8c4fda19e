package actors_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// A room actor spawned alone records a turn in flight while it runs and,
// once the turn ends, reports the stored record (tokens, last turn time, no
// turn in flight) to its parent.
func TestRoomActorAloneReportsItsRecordToItsParent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kit := actortest.NewKit(t)
		room := kit.SpawnRoom(actortest.Room(alice, "!r", "5", 1))
		kit.Probe.Send(room, &actors.StartTurn{EventID: "$q", Sender: alice, Text: "question"})
		turn := kit.NextTurn(kit.NextConn())

		running := actortest.FishForMsg(kit.Probe, func(u *actors.RoomUpdated) bool { return u.Record.TurnInFlight != nil })
		if running.Record.TurnInFlight.EventID != "$q" {
			t.Fatalf("turn in flight %+v, want $q", running.Record.TurnInFlight)
		}
		actortest.Advance(t, 3*time.Second)
		turn.Emit(actortest.Text("answer"), actortest.End(40))
		done := actortest.FishForMsg(kit.Probe, func(u *actors.RoomUpdated) bool { return u.Record.TurnInFlight == nil })
		if done.Record.TokensUsed != 40 || done.Record.LastTurnAt.IsZero() || done.Record.PlatformChatID != "5" {
			t.Fatalf("record after the turn %+v, want 40 tokens, a last turn time and chat 5", done.Record)
		}
		stored, err := kit.Store.GetRoom(context.Background(), "!r")
		if err != nil || stored.TokensUsed != 40 || stored.TurnInFlight != nil {
			t.Fatalf("stored record %+v, %v", stored, err)
		}
	})
}

// A user actor spawned alone onboards its user on an invite.
func TestUserActorAloneOnboards(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kit := actortest.NewKit(t)
		user := kit.SpawnUser(alice)
		mark := kit.Matrix.Mark()
		kit.Probe.Send(user, &actors.InviteReceived{RoomID: "!dm", Inviter: alice, IsDirect: true})
		kit.WaitCall(mark, "SendNotice", "!dm", "I made you a Space")
		u, err := kit.Store.GetUser(context.Background(), alice)
		if err != nil || u.SpaceID == "" || u.ChatCounter != 1 {
			t.Fatalf("user record %+v, %v", u, err)
		}
	})
}

// A user actor that cannot read its record holds the user's events and
// reads again with a backoff instead of crashing (ten crashes in a row made
// its supervisor give up until the next message): the user is told once,
// no event is acked while it waits, and once the store answers the held
// message is served (issue 19, point 5).
func TestUserActorBacksOffWhenItsRecordCannotBeRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kit := actortest.NewKit(t)
		kit.AddRoom(alice, "!r", "3")
		kit.Store.FailReads(errDiskGone)
		user := kit.SpawnUser(alice)
		mark := kit.Matrix.Mark()
		var acked atomic.Bool
		kit.Probe.Send(user, &actors.MessageReceived{RoomID: "!r", EventID: "$1", Sender: alice, MsgType: "m.text", Body: "!help",
			Ack: actors.NewAck(func() { acked.Store(true) })})
		kit.WaitCall(mark, "SendNotice", "!r", "can't save")
		start := time.Now()
		actortest.Advance(t, time.Minute)
		if reads := kit.Store.FailedReads(); reads > 8 {
			t.Fatalf("%d reads of the record in %v while the store fails, want a backoff (at most 8)", reads, time.Since(start))
		}
		if n := len(kit.Matrix.CallsSince(mark, "SendNotice")); n != 1 {
			t.Fatalf("%d notices while the store fails, want 1", n)
		}
		if acked.Load() {
			t.Fatal("the held message was acked before the user's record was read")
		}
		kit.Store.FailReads(nil)
		actortest.Advance(t, 30*time.Second)
		kit.WaitCall(mark, "SendNotice", "!r", "Commands:")
		synctest.Wait()
		if !acked.Load() {
			t.Fatal("the message was not acked once it was served")
		}
	})
}

var errDiskGone = errors.New("disk gone")
