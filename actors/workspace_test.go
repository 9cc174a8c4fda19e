package actors_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// rooms returns the user's room records by chat number.
func (tt *testTree) rooms(userID string) []actors.RoomRecord {
	tt.t.Helper()
	rooms, err := tt.Store.ListRooms(context.Background(), userID)
	if err != nil {
		tt.t.Fatal(err)
	}
	return rooms
}

func TestNewChat(t *testing.T) {
	tests := []struct {
		name, from, command, wantName string
	}{
		{"named, from a chat", "!r1", "!new Travel   plans", "Travel plans"},
		{"numbered, from a chat", "!r1", "!NEW", "Chat 2"},
		{"from the entry room", "!dm-" + alice, "!new", "Chat 2"},
		{"right-to-left and emoji", "!r1", "!new שלום 🚀", "שלום 🚀"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newTestTree(t, actors.Options{})
				tt.addRoom(alice, "!r1", "101")
				m := tt.mark()
				tt.say(alice, tc.from, tc.command)
				pointer := tt.waitCall(m, "SendNotice", tc.from, "I made **"+tc.wantName+"**")
				create := tt.Matrix.CallsSince(m, "CreateChatRoom")
				if len(create) != 1 || create[0].RoomID != "!space-"+alice || create[0].Text != tc.wantName ||
					!slices.Equal(create[0].UserIDs, []string{alice}) {
					t.Fatalf("CreateChatRoom %+v, want %q in alice's Space with alice invited", create, tc.wantName)
				}
				rooms := tt.rooms(alice)
				if len(rooms) != 2 {
					t.Fatalf("rooms %+v, want two", rooms)
				}
				chat := rooms[1]
				if chat.ChatIndex != 2 || chat.Name != tc.wantName || chat.PlatformChatID == "101" || chat.PlatformChatID == "" ||
					chat.AgentID != actortest.AgentID || chat.SpaceID != "!space-"+alice {
					t.Fatalf("new room record %+v", chat)
				}
				if !strings.Contains(pointer.Text, "https://matrix.to/#/"+chat.RoomID) {
					t.Fatalf("pointer %q has no link to %s", pointer.Text, chat.RoomID)
				}
				tt.waitCall(m, "SendNotice", chat.RoomID, "This is **"+tc.wantName+"**")

				// The new room talks to the agent at its own platform_chat_id.
				tt.say(alice, chat.RoomID, "hello there")
				conn := tt.conn()
				if conn.ChatID != chat.PlatformChatID {
					t.Fatalf("dialed chat %s, want %s", conn.ChatID, chat.PlatformChatID)
				}
				tt.turn(conn).Emit(actortest.End(0))
			})
		})
	}
}

func TestNewChatNumbersAreNeverReused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r1", "101")
		m := tt.mark()
		tt.say(alice, "!r1", "!new")
		tt.say(alice, "!r1", "!new")
		tt.waitCall(m, "SendNotice", "!r1", "**Chat 3**")
		var names []string
		for _, c := range tt.Matrix.CallsSince(m, "CreateChatRoom") {
			names = append(names, c.Text)
		}
		if !slices.Equal(names, []string{"Chat 2", "Chat 3"}) {
			t.Fatalf("created %q, want Chat 2 then Chat 3", names)
		}
		ids := map[string]bool{"101": true}
		for _, r := range tt.rooms(alice)[1:] {
			if ids[r.PlatformChatID] {
				t.Fatalf("platform_chat_id %s handed out twice", r.PlatformChatID)
			}
			ids[r.PlatformChatID] = true
		}
	})
}

func TestChatsListsTheActiveChats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r1", "101")
		tt.addRoom(alice, "!r2", "102")
		tt.addRoom(alice, "!old", "103")
		old, _ := tt.Store.GetRoom(context.Background(), "!old")
		old.Archived = true
		if err := tt.Store.PutRoom(context.Background(), old); err != nil {
			t.Fatal(err)
		}
		m := tt.mark()
		tt.say(alice, "!r2", "!chats")
		list := tt.waitCall(m, "SendNotice", "!r2", "Your chats:")
		want := "Your chats:\n- [Chat](https://matrix.to/#/!r1)\n- [Chat](https://matrix.to/#/!r2) ← this one"
		if list.Text != want {
			t.Fatalf("!chats =\n%s\nwant\n%s", list.Text, want)
		}
	})
}

func TestRename(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		m := tt.mark()
		tt.say(alice, "!r", "!rename   Road\ttrip 🚗  ")
		tt.waitCall(m, "SendNotice", "!r", "now called **Road trip 🚗**")
		if set := tt.Matrix.CallsSince(m, "SetRoomName"); len(set) != 1 || set[0].Text != "Road trip 🚗" {
			t.Fatalf("SetRoomName %+v", set)
		}
		synctest.Wait()
		if r, _ := tt.Store.GetRoom(context.Background(), "!r"); r.Name != "Road trip 🚗" {
			t.Fatalf("record name %q", r.Name)
		}
		// The user actor knows the new name too.
		m = tt.mark()
		tt.say(alice, "!r", "!chats")
		tt.waitCall(m, "SendNotice", "!r", "[Road trip 🚗]")

		m = tt.mark()
		tt.say(alice, "!r", "!rename \x00 \n ")
		tt.waitCall(m, "SendNotice", "!r", "Please give a name, e.g. `!rename")
		if n := len(tt.Matrix.CallsSince(m, "SetRoomName")); n != 0 {
			t.Fatalf("an empty name was set (%d calls)", n)
		}
	})
}

func TestArchive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r1", "101")
		tt.addRoom(alice, "!r2", "102")

		// While a reply runs, !archive refuses rather than cut it short.
		tt.say(alice, "!r2", "long question")
		turn := tt.turn(tt.conn())
		m := tt.mark()
		tt.say(alice, "!r2", "!archive")
		tt.waitCall(m, "SendNotice", "!r2", "still being written")
		turn.Emit(actortest.Text("done"), actortest.End(0))
		tt.turnEnded("!r2")

		m = tt.mark()
		tt.say(alice, "!r2", "!archive")
		tt.waitCall(m, "LeaveRoom", "!r2", "")
		calls := tt.Matrix.CallsSince(m, "RemoveFromSpace", "SendNotice", "LeaveRoom")
		var order []string
		for _, c := range calls {
			order = append(order, c.Method)
		}
		if !slices.Equal(order, []string{"RemoveFromSpace", "SendNotice", "LeaveRoom"}) ||
			calls[0].RoomID != "!space-"+alice || calls[0].EventID != "!r2" || !strings.Contains(calls[1].Text, "archived") {
			t.Fatalf("archive calls %+v, want the Space child removed, a notice, then leave", calls)
		}
		synctest.Wait()
		if r, _ := tt.Store.GetRoom(context.Background(), "!r2"); !r.Archived || r.PlatformChatID != "102" {
			t.Fatalf("record %+v, want archived with its platform_chat_id kept", r)
		}
		// The archived room is gone from !chats and no longer talks to the agent.
		tt.say(alice, "!r2", "anyone?")
		m = tt.mark()
		tt.say(alice, "!r1", "!chats")
		list := tt.waitCall(m, "SendNotice", "!r1", "Your chats:")
		if strings.Contains(list.Text, "!r2") {
			t.Fatalf("!chats lists the archived chat:\n%s", list.Text)
		}
		synctest.Wait()
		if len(tt.Agents.Dials()) != 1 {
			t.Fatalf("dials %v: a message in the archived room reached the agent", tt.Agents.Dials())
		}
	})
}

func TestClearStartsAFreshConversation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		tt.say(alice, "!r", "remember 42")
		first := tt.conn()
		tt.turn(first).Emit(actortest.End(0))
		tt.turnEnded("!r")

		m := tt.mark()
		tt.say(alice, "!r", "!RESET")
		tt.waitCall(m, "SendNotice", "!r", "Fresh start")
		synctest.Wait()
		if !first.Closed() {
			t.Fatal("the connection to the previous conversation was kept")
		}
		tt.say(alice, "!r", "what did I say?")
		second := tt.conn()
		if second.ChatID == "101" || second.ChatID == "" {
			t.Fatalf("after !clear dialed chat %q, want a new platform_chat_id", second.ChatID)
		}
		tt.turn(second).Emit(actortest.End(0))
		if r, _ := tt.Store.GetRoom(context.Background(), "!r"); r.PlatformChatID != second.ChatID {
			t.Fatalf("record platform_chat_id %s, want %s", r.PlatformChatID, second.ChatID)
		}
	})
}

func TestContextDescribesTheRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		m := tt.mark()
		tt.say(alice, "!r", "!context")
		info := tt.waitCall(m, "SendNotice", "!r", "conversation id")
		for _, want := range []string{"**Chat**", "Agent 0 (`agent-0`)", "`101`", "reply running: no", "last reply: never", "tokens used: 0"} {
			if !strings.Contains(info.Text, want) {
				t.Fatalf("!context %q lacks %q", info.Text, want)
			}
		}
	})
}

func TestRoomCommandsOutsideAChat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		m := tt.mark()
		tt.say(alice, "!dm-"+alice, "!rename Nope")
		tt.waitCall(m, "SendNotice", "!dm-"+alice, "`!rename` works in one of your chats")
		synctest.Wait()
		if n := len(tt.Matrix.CallsSince(m, "SetRoomName")); n != 0 {
			t.Fatal("a room command in the entry room renamed something")
		}
	})
}

func TestCommandsThatMustDoNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!alices", "101")
		tt.addRoom(bob, "!bobs", "102")
		m := tt.mark()
		// Someone who does not own the room, and a room the bot does not manage.
		tt.say(bob, "!alices", "!archive")
		tt.say(bob, "!alices", "!rename Mine now")
		tt.say(alice, "!nowhere", "!new")
		// A caption is part of its file, never a command: it is the text
		// the file goes to the agent with.
		tt.Matrix.AddMedia("mxc://x/y", []byte("%PDF-1.4"))
		tt.send(&actors.MessageReceived{RoomID: "!alices", EventID: "$file", Sender: alice, MsgType: "m.file",
			Body: "!new from a caption", Media: &actors.Media{URL: "mxc://x/y", FileName: "a.pdf", Size: 8}})
		turn := tt.turn(tt.conn())
		if turn.Msg.Text != "!new from a caption" || len(turn.Msg.Attachments) != 1 {
			t.Fatalf("the captioned file started %q with %v, want the caption with the file", turn.Msg.Text, turn.Msg.Attachments)
		}
		turn.Emit(actortest.Text("ok"), actortest.End(0))
		tt.turnEnded("!alices")
		synctest.Wait()
		for _, c := range tt.Matrix.CallsSince(m, "SetRoomName", "CreateChatRoom", "CreateSpace", "LeaveRoom", "RemoveFromSpace") {
			t.Fatalf("unexpected Matrix call %+v", c)
		}
		if r := tt.rooms(alice); len(r) != 1 || r[0].Archived || r[0].Name != "Chat" {
			t.Fatalf("alice's rooms %+v, want her one chat untouched", r)
		}
	})
}

func TestNewChatThatCannotBeCreated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r1", "101")
		tt.Matrix.Fail("CreateChatRoom", errors.New("M_FORBIDDEN"))
		m := tt.mark()
		tt.say(alice, "!r1", "!new")
		tt.waitCall(m, "SendNotice", "!r1", "could not create the new chat")
		synctest.Wait()
		if r := tt.rooms(alice); len(r) != 1 {
			t.Fatalf("rooms %+v after a failed !new, want only the first", r)
		}
		// The user actor carries on.
		tt.Matrix.Fail("CreateChatRoom", nil)
		m = tt.mark()
		tt.say(alice, "!r1", "!new")
		tt.waitCall(m, "SendNotice", "!r1", "I made **Chat 3**")

		// A room made but not linked to the Space is kept and pointed to,
		// so the user knows where it is rather than finding an orphan.
		tt.Matrix.Fail("LinkChatRoom", errors.New("M_FORBIDDEN"))
		m = tt.mark()
		tt.say(alice, "!r1", "!new")
		pointer := tt.waitCall(m, "SendNotice", "!r1", "I made **Chat 4**")
		rooms := tt.rooms(alice)
		if last := rooms[len(rooms)-1]; last.Name != "Chat 4" || !strings.Contains(pointer.Text, last.RoomID) {
			t.Fatalf("rooms %+v, pointer %q: want Chat 4 kept and linked in the notice", rooms, pointer.Text)
		}
	})
}
