package actors_test

import (
	"strings"
	"testing"
	"testing/synctest"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// talk sends text in room and returns the connection it went out on, after
// ending the turn.
func (tt *testTree) talk(room, text string) *actortest.Conn {
	tt.t.Helper()
	tt.say(alice, room, text)
	conn := tt.conn()
	tt.turn(conn).Emit(actortest.End(0))
	tt.turnEnded(room)
	return conn
}

func TestSaveClearLoadContinuesTheOldConversation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		tt.talk("!r", "remember the trip")

		m := tt.mark()
		tt.say(alice, "!r", "!load")
		tt.waitCall(m, "SendNotice", "!r", "Nothing is saved yet")

		m = tt.mark()
		tt.say(alice, "!r", "!save Trip")
		tt.waitCall(m, "SendNotice", "!r", "Saved this conversation as **Trip**")
		m = tt.mark()
		tt.say(alice, "!r", "!save")
		tt.waitCall(m, "SendNotice", "!r", "Saved this conversation as **Chat 20") // the chat's name and the date

		m = tt.mark()
		tt.say(alice, "!r", "!clear")
		tt.waitCall(m, "SendNotice", "!r", "Fresh start")
		if fresh := tt.talk("!r", "new topic"); fresh.ChatID == "101" {
			t.Fatal("!clear kept the old conversation")
		}

		m = tt.mark()
		tt.say(alice, "!r", "!load")
		list := tt.waitCall(m, "SendNotice", "!r", "Saved conversations")
		// Oldest first, then by name (in the bubble both were saved at the same instant).
		if !strings.Contains(list.Text, "1. **Chat 2000-01-01 00:00** — Agent 0") || !strings.Contains(list.Text, "2. **Trip** — Agent 0") {
			t.Fatalf("!load list %q", list.Text)
		}
		for _, which := range []string{"99", "0", "nope"} {
			m = tt.mark()
			tt.say(alice, "!r", "!load "+which)
			tt.waitCall(m, "SendNotice", "!r", "There is no saved conversation `"+which+"`")
		}

		for _, which := range []string{"2", "TRIP"} {
			tt.say(alice, "!r", "!clear")
			tt.talk("!r", "elsewhere")
			m = tt.mark()
			tt.say(alice, "!r", "!load "+which)
			tt.waitCall(m, "SendNotice", "!r", "continues **Trip** with Agent 0")
			if again := tt.talk("!r", "where were we?"); again.ChatID != "101" {
				t.Fatalf("after !load %s the room talks at %s, want the saved 101", which, again.ChatID)
			}
		}
	})
}

func TestAgentChoice(t *testing.T) {
	t.Run("set by the operator", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tt := newTestTree(t, actors.Options{})
			tt.addRoom(alice, "!r", "101")
			m := tt.mark()
			tt.say(alice, "!r", "!agent 2")
			tt.waitCall(m, "SendNotice", "!r", "set by the operator")
			if conn := tt.talk("!r", "still agent 0?"); conn.Agent.ID != actortest.AgentID || conn.ChatID != "101" {
				t.Fatalf("dialed %s/%s, want the room unchanged", conn.Agent.ID, conn.ChatID)
			}
		})
	})
	t.Run("chosen by the user", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tt := newTestTree(t, actors.Options{UserSelectableAgents: true})
			tt.addRoom(alice, "!r", "101")
			m := tt.mark()
			tt.say(alice, "!r", "!agent")
			list := tt.waitCall(m, "SendNotice", "!r", "Agents")
			if !strings.Contains(list.Text, "1. Agent 0 (`agent-0`) ← this chat") || !strings.Contains(list.Text, "2. Agent 1 (`agent-1`)") {
				t.Fatalf("!agent list %q", list.Text)
			}
			m = tt.mark()
			tt.say(alice, "!r", "!agent nobody")
			tt.waitCall(m, "SendNotice", "!r", "There is no agent `nobody`")
			m = tt.mark()
			tt.say(alice, "!r", "!agent agent-0")
			tt.waitCall(m, "SendNotice", "!r", "already talks to Agent 0")

			m = tt.mark()
			tt.say(alice, "!r", "!agent 2")
			tt.waitCall(m, "SendNotice", "!r", "now talks to Agent 1, in a fresh conversation")
			conn := tt.talk("!r", "hello agent 1")
			if conn.Agent.ID != "agent-1" || conn.ChatID == "101" {
				t.Fatalf("dialed %s/%s, want agent-1 at a new platform_chat_id", conn.Agent.ID, conn.ChatID)
			}
		})
	})
}

// savedThenCleared stores alice's room !r, talks in it, saves that
// conversation (!load 1 finds it), clears the room and talks again; it
// returns the connection of that second conversation.
func (tt *testTree) savedThenCleared() *actortest.Conn {
	tt.t.Helper()
	tt.addRoom(alice, "!r", "101")
	tt.talk("!r", "first")
	m := tt.mark()
	tt.say(alice, "!r", "!save")
	tt.waitCall(m, "SendNotice", "!r", "Saved")
	tt.say(alice, "!r", "!clear")
	return tt.talk("!r", "second")
}

// A message sent right after a command that rebinds the room goes to the
// new conversation, not to the one the command is leaving.
func TestMessageRightAfterARebindGoesToTheNewConversation(t *testing.T) {
	for _, command := range []string{"!clear", "!agent 2", "!load 1"} {
		t.Run(command, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newTestTree(t, actors.Options{UserSelectableAgents: true})
				second := tt.savedThenCleared()

				tt.say(alice, "!r", command)
				tt.say(alice, "!r", "at once")
				conn := tt.conn()
				if key := conn.Agent.ID + "/" + conn.ChatID; key == second.Agent.ID+"/"+second.ChatID {
					t.Fatalf("the message after %s went to the conversation it left (%s)", command, key)
				}
				tt.turn(conn).Emit(actortest.End(0))
			})
		})
	}
}

// A command that rebinds the room, in flight when the room actor crashes,
// is run again by the restarted actor: the user is told it was done, the
// next message goes to the new conversation, and the command's event is
// acked only then (issue 19, point 2).
func TestARebindInFlightSurvivesACrash(t *testing.T) {
	for _, tc := range []struct{ command, done string }{
		{"!clear", "Fresh start"},
		{"!agent 2", "now talks to Agent 1"},
		{"!load 1", "now continues"},
	} {
		t.Run(tc.command, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newTestTree(t, actors.Options{UserSelectableAgents: true,
					RoomMiddleware: []actor.ReceiverMiddleware{actortest.CrashOnCrash}})
				second := tt.savedThenCleared()

				release := tt.Store.HoldRebinds()
				defer release()
				cmd := tt.sayAcked(alice, "!r", "$cmd", tc.command)
				synctest.Wait()
				room := actor.NewPID(tt.System.Address(), actors.RoomActorID(alice, "!r"))
				tt.System.Root.Send(room, &actortest.Crash{Reason: "injected crash"})
				actortest.FishForMsg[*actors.RoomRestarted](tt.Probe, nil)
				m := tt.mark()
				release()
				tt.waitCall(m, "SendNotice", "!r", tc.done)
				synctest.Wait()
				if !cmd.done() {
					t.Fatalf("%s was not acked once the restarted room ran it", tc.command)
				}
				tt.say(alice, "!r", "after the crash")
				conn := tt.conn()
				if key := conn.Agent.ID + "/" + conn.ChatID; key == second.Agent.ID+"/"+second.ChatID {
					t.Fatalf("after a crash during %s the next message went to the old conversation (%s)", tc.command, key)
				}
				tt.turn(conn).Emit(actortest.End(0))
			})
		})
	}
}
