package actors_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

func TestOnboardingCreatesSpaceAndFirstChat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		m := tt.mark()
		tt.send(&actors.InviteReceived{RoomID: "!dm", Inviter: alice, IsDirect: true})
		pointer := tt.waitCall(m, "SendNotice", "!dm", "I made you a Space")
		synctest.Wait()

		if c := tt.Matrix.Calls("JoinRoom"); len(c) != 1 || c[0].RoomID != "!dm" {
			t.Fatalf("joins %+v, want the entry room", c)
		}
		space := tt.Matrix.Calls("CreateSpace")
		if len(space) != 1 || space[0].Text != "Lambda — alice" || space[0].UserIDs[0] != alice {
			t.Fatalf("CreateSpace calls %+v", space)
		}
		rooms := tt.Matrix.Calls("CreateChatRoom")
		if len(rooms) != 1 || rooms[0].Text != "Chat 1" || !strings.HasPrefix(rooms[0].RoomID, "!space") {
			t.Fatalf("CreateChatRoom calls %+v, want Chat 1 in the Space", rooms)
		}
		u, err := tt.Store.GetUser(context.Background(), alice)
		if err != nil || u.SpaceID == "" || u.ChatCounter != 1 || u.EntryRoomID != "!dm" {
			t.Fatalf("user record %+v, %v", u, err)
		}
		chats, _ := tt.Store.ListRooms(context.Background(), alice)
		if len(chats) != 1 || chats[0].PlatformChatID != "1" || chats[0].AgentID != "agent-0" || chats[0].Name != "Chat 1" {
			t.Fatalf("room records %+v", chats)
		}
		welcome := tt.waitCall(m, "SendNotice", chats[0].RoomID, "!help")
		if !strings.Contains(welcome.Text, "Chat 1") {
			t.Fatalf("welcome %q does not name the chat", welcome.Text)
		}
		if !strings.Contains(pointer.Text, "https://matrix.to/#/"+chats[0].RoomID) {
			t.Fatalf("pointer %q has no link", pointer.Text)
		}
		// The default agent was given without an assignment: said once.
		tt.waitCall(m, "SendNotice", chats[0].RoomID, "default one")

		// The new room works at once.
		tt.say(alice, chats[0].RoomID, "hi")
		turn := tt.turn(tt.conn())
		m = tt.mark()
		turn.Emit(actortest.Text("hello!"), actortest.End(0))
		tt.waitCall(m, "SendText", chats[0].RoomID, "hello!")
	})
}

func TestOnboardingIsIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		m := tt.mark()
		tt.send(&actors.InviteReceived{RoomID: "!dm", Inviter: alice})
		tt.waitCall(m, "SendNotice", "!dm", "I made you a Space")
		m = tt.mark()
		tt.send(&actors.InviteReceived{RoomID: "!dm", Inviter: alice})
		tt.waitCall(m, "SendNotice", "!dm", "You already have a Space")
		m = tt.mark()
		tt.say(alice, "!dm", "hello? where do I talk")
		tt.waitCall(m, "SendNotice", "!dm", "You already have a Space")
		synctest.Wait()
		if n := len(tt.Matrix.Calls("CreateSpace")); n != 1 {
			t.Fatalf("%d Spaces created, want 1", n)
		}
		if n := len(tt.Matrix.Calls("CreateChatRoom")); n != 1 {
			t.Fatalf("%d chats created, want 1", n)
		}
		var reinvites int
		for _, c := range tt.Matrix.Calls("Invite") {
			if c.UserIDs[0] == alice {
				reinvites++
			}
		}
		if reinvites != 4 { // Space and chat, twice
			t.Fatalf("%d re-invites, want 4", reinvites)
		}
		if n := len(tt.Agents.Dials()); n != 0 {
			t.Fatal("a message in the entry room reached the agent")
		}
	})
}

func TestInvitePolicy(t *testing.T) {
	tests := []struct {
		name     string
		allowed  []string
		inviter  string
		accepted bool
	}{
		{"any server", nil, alice, true},
		{"allowed server", []string{"example.test"}, alice, true},
		{"other server", []string{"elsewhere.test"}, alice, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newTestTree(t, actors.Options{AllowedServers: tc.allowed})
				tt.send(&actors.InviteReceived{RoomID: "!dm", Inviter: tc.inviter})
				synctest.Wait()
				joined := len(tt.Matrix.Calls("JoinRoom")) == 1
				rejected := len(tt.Matrix.Calls("RejectInvite")) == 1
				if joined != tc.accepted || rejected == tc.accepted {
					t.Fatalf("joined=%v rejected=%v, want accepted=%v", joined, rejected, tc.accepted)
				}
			})
		})
	}
}

func TestCommandsNeverReachTheAgent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "1")
		m := tt.mark()
		tt.say(alice, "!r", "!HELP")
		help := tt.waitCall(m, "SendNotice", "!r", "Commands:")
		if !strings.Contains(help.Text, "!help") {
			t.Fatalf("help %q", help.Text)
		}
		m = tt.mark()
		tt.say(alice, "!r", "!frobnicate now")
		tt.waitCall(m, "SendNotice", "!r", "Unknown command `!frobnicate`, see `!help`")
		synctest.Wait()
		if d := tt.Agents.Dials(); len(d) != 0 {
			t.Fatalf("commands dialed the agent: %v", d)
		}
	})
}

func TestMessagesOutsideOwnedRoomsAreIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!alices", "1")
		tt.say(bob, "!alices", "let me in")                  // not the owner
		tt.say(alice, "!unknown", "hello?")                  // a room the bot does not manage
		tt.say(bot, "!alices", "my own echo")                // the bot itself
		help := tt.say(alice, "!alices", "!help")            // control: this one is answered
		tt.waitCall(0, "SendNotice", "!alices", "Commands:") // the only answer there may be
		synctest.Wait()
		var methods []string
		for _, c := range tt.Matrix.Calls() {
			methods = append(methods, c.Method+" "+c.EventID)
		}
		if len(methods) != 2 || !slices.Contains(methods, "MarkRead "+help) {
			t.Fatalf("Matrix calls %q, want only the help notice and the receipt for !help", methods)
		}
		if d := tt.Agents.Dials(); len(d) != 0 {
			t.Fatalf("ignored messages dialed the agent: %v", d)
		}
	})
}

func TestConfirmationRequestIsAnsweredWithYesOrNo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "1")
		m := tt.mark()
		tt.say(alice, "!r", "!yes")
		tt.waitCall(m, "SendNotice", "!r", "not waiting for an answer")

		tt.say(alice, "!r", "send the mail")
		conn := tt.conn()
		turn := tt.turn(conn)
		m = tt.mark()
		turn.Emit(actors.AgentEvent{Kind: actors.AgentConfirmRequest, ID: "c-7", Text: "Send it to bob?"})
		tt.waitCall(m, "SendNotice", "!r", "The agent asks: Send it to bob?")
		tt.say(alice, "!r", "!NO")
		synctest.Wait()
		if got := conn.Confirms(); len(got) != 1 || got[0] != (actortest.Confirmation{ID: "c-7", Approved: false}) {
			t.Fatalf("confirmations %+v, want c-7 declined", got)
		}
		m = tt.mark()
		turn.Emit(actortest.Text("ok, not sending"), actortest.End(0))
		tt.waitCall(m, "SendText", "!r", "ok, not sending")
		if n := len(tt.Agents.Dials()); n != 1 {
			t.Fatalf("%d dials: the commands reached the agent as turns", n)
		}
	})
}

func TestFirstChatNameAndLocale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{FirstChatName: "General", SpaceNameTemplate: "Team {name}"})
		m := tt.mark()
		tt.send(&actors.InviteReceived{RoomID: "!dm", Inviter: alice})
		tt.waitCall(m, "SendNotice", "!dm", "General")
		if c := tt.Matrix.Calls("CreateChatRoom"); len(c) != 1 || c[0].Text != "General" {
			t.Fatalf("CreateChatRoom %+v, want General", c)
		}
		if c := tt.Matrix.Calls("CreateSpace"); len(c) != 1 || c[0].Text != "Team alice" {
			t.Fatalf("CreateSpace %+v, want Team alice", c)
		}
	})
}

func TestEncryptedMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!chat", "1")
		m := tt.mark()
		tt.send(&actors.MessageReceived{RoomID: "!chat", EventID: "$enc1", Sender: alice, MsgType: actors.MsgTypeEncrypted})
		tt.waitCall(m, "SendNotice", "!chat", "encrypted")
		// In the entry room, an unreadable message still means "where do I talk?".
		m = tt.mark()
		tt.send(&actors.MessageReceived{RoomID: "!dm-" + alice, EventID: "$enc2", Sender: alice, MsgType: actors.MsgTypeEncrypted})
		tt.waitCall(m, "SendNotice", "!dm-"+alice, "You already have a Space")
		synctest.Wait()
		if d := tt.Agents.Dials(); len(d) != 0 {
			t.Fatalf("an encrypted message reached the agent: %v", d)
		}
	})
}

func TestConfirmationRequestIsAnsweredByAReaction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "1")
		tt.say(alice, "!r", "delete the draft")
		conn := tt.conn()
		turn := tt.turn(conn)
		m := tt.mark()
		turn.Emit(actors.AgentEvent{Kind: actors.AgentConfirmRequest, ID: "c-9", Text: "Delete it?"})
		ask := tt.waitCall(m, "SendNotice", "!r", "react 👍 or 👎")
		tt.waitCall(m, "SendReaction", "!r", "👎")
		var offered []string
		for _, c := range tt.Matrix.CallsSince(m, "SendReaction") {
			if c.EventID != ask.EventID {
				t.Fatalf("reaction %+v is not on the question %s", c, ask.EventID)
			}
			offered = append(offered, c.Text)
		}
		if !slices.Equal(offered, []string{"👍", "👎"}) {
			t.Fatalf("offered reactions %q, want 👍 and 👎", offered)
		}

		// Reactions that answer nothing: to another event, from someone else.
		tt.send(&actors.ReactionReceived{RoomID: "!r", EventID: "$x1", Sender: alice, RelatesTo: "$other", Key: "👍"})
		tt.send(&actors.ReactionReceived{RoomID: "!r", EventID: "$x2", Sender: bob, RelatesTo: ask.EventID, Key: "👍"})
		synctest.Wait()
		if got := conn.Confirms(); len(got) != 0 {
			t.Fatalf("confirmations %+v from reactions that answer nothing", got)
		}
		tt.send(&actors.ReactionReceived{RoomID: "!r", EventID: "$x3", Sender: alice, RelatesTo: ask.EventID, Key: "👍️"})
		synctest.Wait()
		if got := conn.Confirms(); len(got) != 1 || got[0] != (actortest.Confirmation{ID: "c-9", Approved: true}) {
			t.Fatalf("confirmations %+v, want c-9 approved", got)
		}
		turn.Emit(actortest.End(0))
	})
}

// Two invites at once create one Space: the user actor serialises them.
func TestTwoInvitesAtOnceCreateOneSpace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		release := tt.Matrix.Block("CreateSpace")
		tt.send(&actors.InviteReceived{RoomID: "!dm1", Inviter: alice, IsDirect: true})
		tt.send(&actors.InviteReceived{RoomID: "!dm2", Inviter: alice, IsDirect: true})
		synctest.Wait()
		release()
		m := actortest.Mark(0)
		tt.waitCall(m, "SendNotice", "!dm2", "You already have a Space")
		synctest.Wait()
		if n := len(tt.Matrix.CallsSince(m, "CreateSpace")); n != 1 {
			t.Fatalf("%d Spaces created, want 1", n)
		}
		if n := len(tt.Matrix.CallsSince(m, "CreateChatRoom")); n != 1 {
			t.Fatalf("%d chats created, want 1", n)
		}
	})
}

// A confirmation request nobody answers is declined after ConfirmTimeout,
// with a notice; one answered in time is not.
func TestUnansweredConfirmationIsDeclined(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{ConfirmTimeout: 10 * time.Minute})
		tt.addRoom(alice, "!r", "1")
		tt.say(alice, "!r", "delete everything")
		conn := tt.conn()
		turn := tt.turn(conn)
		m := tt.mark()
		turn.Emit(actors.AgentEvent{Kind: actors.AgentConfirmRequest, ID: "c-1", Text: "Really?"})
		tt.waitCall(m, "SendNotice", "!r", "Really?")
		actortest.Advance(t, 9*time.Minute)
		if got := conn.Confirms(); len(got) != 0 {
			t.Fatalf("declined after 9 minutes: %+v", got)
		}
		m = tt.mark()
		actortest.Advance(t, time.Minute)
		tt.waitCall(m, "SendNotice", "!r", "Nobody answered")
		if got := conn.Confirms(); len(got) != 1 || got[0] != (actortest.Confirmation{ID: "c-1", Approved: false}) {
			t.Fatalf("confirmations %+v, want c-1 declined", got)
		}
		turn.Emit(actortest.End(0))
	})
}

// A user actor that crashes while onboarding its user neither loses what
// the onboarding goes on to create nor makes a second Space when the user
// asks again: the next incarnation adopts the running onboarding.
func TestUserActorRestartDuringOnboarding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{UserMiddleware: []actor.ReceiverMiddleware{actortest.CrashOnCrash}})
		release := tt.Matrix.Block("CreateSpace")
		tt.send(&actors.InviteReceived{RoomID: "!dm", Inviter: alice, IsDirect: true})
		synctest.Wait() // the onboarding waits for its Space

		user := actor.NewPID(tt.System.Address(), actors.RootName+"/user-"+url.PathEscape(alice))
		tt.System.Root.Send(user, &actortest.Crash{Reason: "crash while onboarding"})
		synctest.Wait()
		m := tt.mark()
		tt.send(&actors.InviteReceived{RoomID: "!dm", Inviter: alice, IsDirect: true}) // the user asks again
		synctest.Wait()
		release()
		tt.waitCall(m, "SendNotice", "!dm", "") // the second invite is answered
		synctest.Wait()

		if n := len(tt.Matrix.Calls("CreateSpace")); n != 1 {
			t.Fatalf("%d Spaces created, want 1", n)
		}
		chats, _ := tt.Store.ListRooms(context.Background(), alice)
		if n := len(tt.Matrix.Calls("CreateChatRoom")); n != 1 || len(chats) != 1 {
			t.Fatalf("%d chat rooms created and %d stored, want 1 and 1", n, len(chats))
		}
		// The room the crashed incarnation's onboarding created works.
		tt.say(alice, chats[0].RoomID, "hi")
		turn := tt.turn(tt.conn())
		turn.Emit(actortest.End(0))
		tt.turnEnded(chats[0].RoomID)
	})
}
