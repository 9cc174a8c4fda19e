package actors_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// startStreaming starts a turn in !r that has streamed "partial answer".
func startStreaming(t *testing.T, tt *testTree) (*actortest.Conn, *actortest.Turn, actortest.Call) {
	t.Helper()
	tt.say(alice, "!r", "write a lot")
	conn := tt.conn()
	turn := tt.turn(conn)
	m := tt.mark()
	turn.Emit(actortest.Text("partial answer"))
	reply := tt.waitCall(m, "SendText", "!r", "partial answer")
	return conn, turn, reply
}

func TestStop(t *testing.T) {
	tests := []struct {
		name      string
		canCancel bool
		agentEnds bool // the agent ends its turn after USER_CANCEL
		byReact   bool
	}{
		{name: "!stop, agent with the cancel capability", canCancel: true, agentEnds: true},
		{name: "🛑 on the reply", canCancel: true, agentEnds: true, byReact: true},
		{name: "!stop, agent without the capability"},
		{name: "!stop, agent that ignores USER_CANCEL", canCancel: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newTestTree(t, actors.Options{CancelGrace: 5 * time.Second})
				tt.Agents.CanCancel = tc.canCancel
				tt.addRoom(alice, "!r", "101")
				conn, turn, reply := startStreaming(t, tt)
				tt.say(alice, "!r", "queued behind it")
				synctest.Wait() // the turn's own calls (typing on) are in before the mark

				m := tt.mark()
				start := time.Now()
				if tc.byReact {
					tt.send(&actors.ReactionReceived{RoomID: "!r", EventID: "$react", Sender: alice, RelatesTo: reply.EventID, Key: "🛑"})
				} else {
					tt.say(alice, "!r", "!stop")
				}
				final := tt.waitCall(m, "EditText", "!r", "_(stopped)_")
				if took := time.Since(start); took > time.Second {
					t.Fatalf("the reply was marked stopped after %v, want within a second", took)
				}
				if final.EventID != reply.EventID || final.Text != "partial answer\n\n_(stopped)_" {
					t.Fatalf("final edit %+v, want the partial answer marked stopped", final)
				}
				tt.turnEnded("!r")
				synctest.Wait()
				// (Without the capability the queued turn starts at once, and
				// the typing latch rightly never turns typing off between them.)
				if typing := tt.Matrix.CallsSince(m, "SetTyping"); tc.canCancel && (len(typing) == 0 || typing[0].Typing) {
					t.Fatalf("typing %+v, want it turned off first", typing)
				}
				if took := time.Since(start); took > time.Second {
					t.Fatalf("the turn ended %v after the stop, want within a second", took)
				}
				if got, want := conn.Cancels(), map[bool]int{true: 1, false: 0}[tc.canCancel]; got != want {
					t.Fatalf("%d USER_CANCEL sent, want %d", got, want)
				}

				// The queued message goes on: on the same connection once the
				// agent ended its turn, or on a new one.
				switch {
				case tc.agentEnds:
					tt.noTurn(conn, "the next turn started before the agent ended the stopped one")
					turn.Emit(actortest.Text("late text"), actortest.End(0))
					next := tt.turn(conn)
					if next.Msg.Text != "queued behind it" {
						t.Fatalf("next turn %q", next.Msg.Text)
					}
					next.Emit(actortest.End(0))
				case !tc.canCancel:
					if !conn.Closed() {
						t.Fatal("the connection of an agent that cannot cancel was kept")
					}
					next := tt.turn(tt.conn())
					next.Emit(actortest.End(0))
				default: // the agent ignores USER_CANCEL: after the grace it is closed
					actortest.Advance(t, 5*time.Second)
					if !conn.Closed() {
						t.Fatal("the connection was kept after the cancel grace")
					}
					next := tt.turn(tt.conn())
					next.Emit(actortest.End(0))
				}
				synctest.Wait()
				for _, c := range tt.Matrix.Calls("EditText", "SendText") {
					if strings.Contains(c.Text, "late text") {
						t.Fatal("text sent after the stop was shown")
					}
				}
			})
		})
	}
}

func TestStopWithNothingRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		m := tt.mark()
		tt.say(alice, "!r", "!stop")
		tt.waitCall(m, "SendNotice", "!r", "nothing to stop")
	})
}

// A stopped turn whose END was already on its way: the USER_CANCEL written
// after it must not reach the agent after the next message, or it would
// stop that turn instead (issue 19, point 1).
func TestALateCancelStopsOnlyTheStoppedTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{CancelGrace: 5 * time.Second})
		tt.Agents.CanCancel = true
		tt.addRoom(alice, "!r", "101")
		conn, turn, _ := startStreaming(t, tt)
		release := conn.HoldCancels() // the USER_CANCEL write is slow
		tt.say(alice, "!r", "!stop")
		synctest.Wait()
		turn.Emit(actortest.End(0)) // the agent had finished anyway
		tt.say(alice, "!r", "the next question")
		synctest.Wait()
		tt.noTurn(conn, "the next turn started while the USER_CANCEL was still being written")
		release()
		next := tt.turn(conn)
		if next.Msg.Text != "the next question" {
			t.Fatalf("next turn %q", next.Msg.Text)
		}
		if got := conn.CancelledTurns(); len(got) != 1 || got[0] != "" {
			t.Fatalf("the USER_CANCEL reached the turns %q, want none running (\"\")", got)
		}
		next.Emit(actortest.Text("answer"), actortest.End(0))
		tt.turnEnded("!r")
	})
}
