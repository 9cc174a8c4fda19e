package actors_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// A user on the default agent who is then assigned one: their rooms move
// over with a notice, in a fresh conversation, and new chats go there too.
func TestRoomsOnTheDefaultAgentMoveWhenTheUserIsAssigned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		m := tt.mark()
		tt.send(&actors.InviteReceived{RoomID: "!dm", Inviter: alice, IsDirect: true})
		tt.waitCall(m, "SendNotice", "", "the default one")
		chat := tt.rooms(alice)[0]
		if !chat.AgentDefaulted || chat.AgentID != actortest.AgentID {
			t.Fatalf("first chat %+v, want it on the default agent and marked so", chat)
		}
		before := tt.talk(chat.RoomID, "hello default")

		tt.Registry.Assign(alice, "agent-1")
		m = tt.mark()
		tt.say(alice, chat.RoomID, "hello again")
		tt.waitCall(m, "SendNotice", chat.RoomID, "You now have your own agent, Agent 1")
		conn := tt.conn()
		if conn.Agent.ID != "agent-1" || conn.ChatID == before.ChatID {
			t.Fatalf("after the assignment dialed %s/%s, want agent-1 at a new platform_chat_id", conn.Agent.ID, conn.ChatID)
		}
		if turn := tt.turn(conn); turn.Msg.Text != "hello again" {
			t.Fatalf("the moved room sent %q", turn.Msg.Text)
		} else {
			turn.Emit(actortest.End(0))
		}
		synctest.Wait()
		if r, _ := tt.Store.GetRoom(context.Background(), chat.RoomID); r.AgentDefaulted || r.AgentID != "agent-1" {
			t.Fatalf("record %+v, want it on agent-1, no longer defaulted", r)
		}

		// New chats go to the assigned agent; a room on an assigned agent
		// stays when the assignment changes again.
		m = tt.mark()
		tt.say(alice, chat.RoomID, "!new")
		tt.waitCall(m, "SendNotice", chat.RoomID, "**Chat 2**")
		chat2 := tt.rooms(alice)[1]
		if chat2.AgentID != "agent-1" || chat2.AgentDefaulted {
			t.Fatalf("new chat %+v, want it on agent-1", chat2)
		}
		tt.Registry.Assign(alice, actortest.AgentID)
		tt.say(alice, chat.RoomID, "still on agent 1?")
		if turn := tt.turn(conn); turn.Msg.Text != "still on agent 1?" {
			t.Fatalf("the turn went %q on agent-1's connection", turn.Msg.Text)
		} else {
			turn.Emit(actortest.End(0))
		}
		synctest.Wait()
		if c, ok := tt.Agents.TryNextConn(); ok {
			t.Fatalf("a room on an assigned agent dialed %s/%s", c.Agent.ID, c.ChatID)
		}
	})
}

// When the move to the assigned agent cannot take a platform_chat_id, the
// turn goes ahead on the default agent instead of retrying in a loop.
func TestAFailedMoveLetsTheTurnGoAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		r := tt.AddRoom(alice, "!r", "101")
		r.AgentDefaulted = true
		if err := tt.Store.PutRoom(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		tt.Registry.Assign(alice, "agent-1")
		tt.Store.FailWrites(errDiskGone)
		tt.say(alice, "!r", "hello")
		synctest.Wait()
		// The turn waits for its record (see TestAFailedWriteHoldsTheAck);
		// the move does not wait for a platform_chat_id in a loop.
		tt.Store.FailWrites(nil)
		conn := tt.conn()
		if conn.Agent.ID != actortest.AgentID || conn.ChatID != "101" {
			t.Fatalf("dialed %s/%s, want the default agent's conversation", conn.Agent.ID, conn.ChatID)
		}
		tt.turn(conn).Emit(actortest.End(0))
	})
}

// Access can be taken away: under the deny policy a user removed from the
// registry gets one notice per room and nothing reaches an agent; mapped
// again, they are served again.
func TestAccessCanBeTakenAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.Registry.Deny = true
		tt.Registry.Assign(alice, actortest.AgentID)
		tt.addRoom(alice, "!r", "101")
		conn := tt.talk("!r", "allowed")

		tt.Registry.Assign(alice, "")
		m := tt.mark()
		tt.say(alice, "!r", "still there?")
		tt.say(alice, "!r", "hello?")
		tt.waitCall(m, "SendNotice", "!r", "don't have access")
		synctest.Wait()
		denied := 0
		for _, c := range tt.Matrix.CallsSince(m, "SendNotice") {
			if strings.Contains(c.Text, "don't have access") {
				denied++
			}
		}
		if denied != 1 {
			t.Fatalf("%d access notices, want one for the room", denied)
		}
		tt.noTurn(conn, "a message of a user without access reached the agent")
		if _, ok := tt.Agents.TryNextConn(); ok {
			t.Fatal("a message of a user without access dialed an agent")
		}

		tt.Registry.Assign(alice, actortest.AgentID)
		tt.say(alice, "!r", "back")
		turn := tt.turn(conn)
		if turn.Msg.Text != "back" {
			t.Fatalf("after access came back the agent got %q", turn.Msg.Text)
		}
		turn.Emit(actortest.End(0))
	})
}

// Under the default policy, a user the operator removes from user_agents
// loses their agent but not the service: their rooms move to the default
// agent with a notice, in a fresh conversation. Where users choose their
// agents themselves, a room keeps the agent it has.
func TestRoomsMoveToTheDefaultAgentWhenTheAssignmentIsRemoved(t *testing.T) {
	for _, selectable := range []bool{false, true} {
		name := map[bool]string{false: "routing by the operator", true: "users choose their agents"}[selectable]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newTestTree(t, actors.Options{UserSelectableAgents: selectable})
				tt.Registry.Assign(alice, "agent-1")
				r := tt.AddRoom(alice, "!r", "101")
				r.AgentID = "agent-1"
				if err := tt.Store.PutRoom(context.Background(), r); err != nil {
					t.Fatal(err)
				}
				conn := tt.talk("!r", "on agent 1")
				if conn.Agent.ID != "agent-1" {
					t.Fatalf("dialed %s, want agent-1", conn.Agent.ID)
				}

				synctest.Wait() // what the first turn posts is before the mark
				tt.Registry.Assign(alice, "")
				m := tt.mark()
				tt.say(alice, "!r", "and now?")
				if selectable {
					turn := tt.turn(conn)
					turn.Emit(actortest.Text("still agent 1"), actortest.End(0))
					tt.turnEnded("!r")
					synctest.Wait()
					if n := len(tt.Matrix.CallsSince(m, "SendNotice")); n != 0 {
						t.Fatalf("%d notices %+v, want the room to stay quietly on its agent", n, tt.Matrix.CallsSince(m, "SendNotice"))
					}
					return
				}
				tt.waitCall(m, "SendNotice", "!r", "default agent, Agent 0")
				moved := tt.conn()
				if moved.Agent.ID != actortest.AgentID || moved.ChatID == "101" {
					t.Fatalf("dialed %s/%s, want the default agent at a fresh platform_chat_id", moved.Agent.ID, moved.ChatID)
				}
				turn := tt.turn(moved)
				if turn.Msg.Text != "and now?" {
					t.Fatalf("the moved room sent %q", turn.Msg.Text)
				}
				turn.Emit(actortest.End(0))
				tt.turnEnded("!r")
				synctest.Wait() // the record's last write lands
				if r, _ := tt.Store.GetRoom(context.Background(), "!r"); !r.AgentDefaulted || r.AgentID != actortest.AgentID {
					t.Fatalf("record %+v, want it on the default agent and marked defaulted", r)
				}
			})
		})
	}
}
