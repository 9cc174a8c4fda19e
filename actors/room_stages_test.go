package actors_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// A turn's stages are measured from the moment the bot took the message
// from the homeserver's response (issue 21, point 2). In virtual time each
// stage is exact: the record lands 50 ms after the message, the agent
// thinks 200 ms before its first chunk, the reply's first message goes out
// with it and the homeserver takes 20 ms to accept it, and the final text
// comes 300 ms after the chunk.
func TestTurnStages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{EditInterval: time.Second})
		tt.addRoom(alice, "!r", "101")
		synctest.Wait()
		release := tt.Store.HoldRoomWrites()
		received := time.Now()
		tt.send(&actors.MessageReceived{RoomID: "!r", EventID: "$one", Sender: alice, MsgType: "m.text", Body: "hello", ReceivedAt: received})
		synctest.Wait()
		actortest.Advance(t, 50*time.Millisecond)
		release()
		turn := tt.turn(tt.conn())
		actortest.Advance(t, 200*time.Millisecond)
		releaseSend := tt.Matrix.Block("SendText")
		turn.Emit(actortest.Text("hi"))
		synctest.Wait()
		actortest.Advance(t, 20*time.Millisecond)
		releaseSend()
		synctest.Wait()
		actortest.Advance(t, 280*time.Millisecond)
		turn.Emit(actortest.End(0))
		ended := tt.turnEnded("!r")
		want := actors.TurnStages{
			Taken: 0, Recorded: 50 * time.Millisecond, AgentReady: 50 * time.Millisecond,
			FirstChunk: 250 * time.Millisecond, FirstSent: 250 * time.Millisecond, FirstVisible: 270 * time.Millisecond,
			Final: 550 * time.Millisecond,
		}
		if ended.Stages != want {
			t.Fatalf("stages %+v, want %+v", ended.Stages, want)
		}
	})
}
