package actors_test

import (
	"context"
	"errors"
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

// A user actor that cannot read its record crashes; its supervisor restarts
// it and the new incarnation serves the user once the store answers again.
func TestUserActorRestartsWhenItsRecordCannotBeRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kit := actortest.NewKit(t)
		kit.AddRoom(alice, "!r", "3")
		kit.Store.FailNextReads(1, errDiskGone)
		user := kit.SpawnUser(alice)
		kit.Probe.ExpectRestart(user)
		mark := kit.Matrix.Mark()
		kit.Probe.Send(user, &actors.MessageReceived{RoomID: "!r", EventID: "$1", Sender: alice, MsgType: "m.text", Body: "!help"})
		kit.WaitCall(mark, "SendNotice", "!r", "Commands:")
	})
}

var errDiskGone = errors.New("disk gone")
