package actors_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/room"
)

// acked is an Ack a test can read.
type acked struct {
	n   atomic.Int32
	ack *actors.Ack
}

func newAcked() *acked {
	a := &acked{}
	a.ack = actors.NewAck(func() { a.n.Add(1) })
	return a
}

func (a *acked) done() bool { return a.n.Load() > 0 }

// sayAcked sends a text message carrying an Ack, as the sync loop does.
func (tt *testTree) sayAcked(sender, roomID, eventID, body string) *acked {
	a := newAcked()
	tt.send(&actors.MessageReceived{RoomID: roomID, EventID: eventID, Sender: sender, MsgType: "m.text", Body: body, Ack: a.ack})
	return a
}

// A message is acked only once the room's record holds it (as the running
// turn, or in the queue): the sync position must not go past a message a
// crash would lose (PRODUCT R3.2, R7.2).
func TestAMessageIsAckedOnceItIsInTheRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newSeededTree(t, actors.Options{}, func(tt *testTree) { tt.addRoom(alice, "!r", "101") })
		synctest.Wait()

		for _, step := range []struct {
			name, eventID string
			stored        func(r actors.RoomRecord) bool
		}{
			{"the message that starts a turn", "$one", func(r actors.RoomRecord) bool {
				return r.TurnInFlight != nil && r.TurnInFlight.EventID == "$one"
			}},
			{"a message queued behind it", "$two", func(r actors.RoomRecord) bool {
				return len(r.Queue) == 1 && r.Queue[0].EventID == "$two"
			}},
		} {
			release := tt.Store.HoldRoomWrites()
			defer release() // a failed step must not leave writes held
			a := tt.sayAcked(alice, "!r", step.eventID, "hello "+step.eventID)
			synctest.Wait()
			if a.done() {
				t.Fatalf("%s: acked before its record was written", step.name)
			}
			release()
			synctest.Wait()
			if !a.done() {
				t.Fatalf("%s: not acked after its record was written", step.name)
			}
			r, err := tt.Store.GetRoom(t.Context(), "!r")
			if err != nil {
				t.Fatal(err)
			}
			if !step.stored(r) {
				t.Fatalf("%s: acked, but the record does not hold it: %+v", step.name, r)
			}
		}
	})
}

// Events nobody writes are acked once decided: a command, a stranger's
// message, a message in a room the bot does not serve, a reaction.
func TestEventsThatNeedNoWriteAreAcked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newSeededTree(t, actors.Options{}, func(tt *testTree) { tt.addRoom(alice, "!r", "101") })
		release := tt.Store.HoldRoomWrites() // none of these waits for a write
		defer release()
		reaction := newAcked()
		events := map[string]*acked{
			"a command":                    tt.sayAcked(alice, "!r", "$help", "!help"),
			"a stranger's message":         tt.sayAcked("@stranger:example.test", "!r", "$s", "hi"),
			"a message in a foreign room":  tt.sayAcked(alice, "!elsewhere", "$f", "hi"),
			"a reaction to nothing asked":  reaction,
			"the bot's own event (echoed)": tt.sayAcked(actortest.BotUserID, "!r", "$own", "hi"),
		}
		tt.send(&actors.ReactionReceived{RoomID: "!r", EventID: "$x", Sender: alice, RelatesTo: "$nothing", Key: "👍", Ack: reaction.ack})
		synctest.Wait()
		for name, a := range events {
			if !a.done() {
				t.Errorf("%s was not acked", name)
			}
		}
	})
}

// A message the homeserver delivers again (a crash came before its ack, so
// the sync position stayed behind it) is not run again, by this incarnation
// of the room or by the next start's.
func TestAMessageDeliveredAgainIsTakenOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newSeededTree(t, actors.Options{}, func(tt *testTree) { tt.addRoom(alice, "!r", "101") })
		tt.sayAcked(alice, "!r", "$once", "only once")
		conn := tt.conn()
		tt.turn(conn).Emit(actortest.Text("ok"), actortest.End(0))
		tt.turnEnded("!r")

		again := tt.sayAcked(alice, "!r", "$once", "only once")
		synctest.Wait()
		tt.noTurn(conn, "delivered again")
		if !again.done() {
			t.Fatal("the second delivery was not acked")
		}

		tt.restart()
		again = tt.sayAcked(alice, "!r", "$once", "only once")
		tt.sayAcked(alice, "!r", "$next", "a new one")
		conn = tt.conn()
		if turn := tt.turn(conn); turn.Msg.Text != "a new one" {
			t.Fatalf("after the restart the turn is %q, want the new message", turn.Msg.Text)
		}
		if !again.done() {
			t.Fatal("the second delivery after the restart was not acked")
		}
	})
}

// A second delivery that comes while the first one's record write is on its
// way is acked only once that write, or a later one, landed: until then the
// message's only copy is in memory, and a kill would lose it with both acks
// done (in a cluster, the user actor's second delivery after a grain moved).
func TestASecondDeliveryWaitsForTheFirstOnesRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newSeededTree(t, actors.Options{}, func(tt *testTree) { tt.addRoom(alice, "!r", "101") })
		synctest.Wait()
		release := tt.Store.HoldRoomWrites()
		defer release()
		first := tt.sayAcked(alice, "!r", "$one", "hello")
		synctest.Wait()
		again := tt.sayAcked(alice, "!r", "$one", "hello")
		synctest.Wait()
		if first.done() || again.done() {
			t.Fatal("a delivery was acked before the record holding the message was written")
		}
		release()
		synctest.Wait()
		if !first.done() || !again.done() {
			t.Fatal("not acked after the record was written")
		}
		conn := tt.conn()
		tt.turn(conn).Emit(actortest.Text("ok"), actortest.End(0))
		tt.turnEnded("!r")
		tt.noTurn(conn, "delivered twice")
	})
}

// Second deliveries of a message while the room's writes fail wait for the
// next attempt of the backoff instead of each writing at once: a
// homeserver, or a user actor in another member, sending again during an
// outage must not hammer a failing store.
func TestSecondDeliveriesKeepTheWriteBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newSeededTree(t, actors.Options{}, func(tt *testTree) { tt.addRoom(alice, "!r", "101") })
		synctest.Wait()
		var attempts atomic.Int32
		sub := tt.System.EventStream.Subscribe(func(evt any) {
			if e, ok := evt.(*actors.RecordWriteFailed); ok && e.RoomID == "!r" {
				attempts.Add(1)
			}
		})
		defer tt.System.EventStream.Unsubscribe(sub)
		tt.Store.FailWrites(errDiskGone)
		first := tt.sayAcked(alice, "!r", "$one", "hello")
		synctest.Wait()
		before := attempts.Load()
		if before == 0 {
			t.Fatal("no write failed")
		}
		var again []*acked
		for range 5 {
			again = append(again, tt.sayAcked(alice, "!r", "$one", "hello"))
			synctest.Wait()
		}
		if n := attempts.Load(); n != before {
			t.Fatalf("%d failed writes after five second deliveries, want still %d: each wrote at once", n, before)
		}
		tt.Store.FailWrites(nil)
		actortest.Advance(t, room.MaxWriteRetry)
		synctest.Wait()
		for i, a := range append([]*acked{first}, again...) {
			if !a.done() {
				t.Fatalf("delivery %d not acked once the record was written", i)
			}
		}
	})
}

// A message goes to the agent only once the room's record says its turn is
// in flight: a crash before that has the homeserver deliver it again and it
// runs once; a crash after it is reported as a cut turn, never run twice.
func TestATurnReachesTheAgentOnceItIsRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newSeededTree(t, actors.Options{}, func(tt *testTree) { tt.addRoom(alice, "!r", "101") })
		synctest.Wait()
		release := tt.Store.HoldRoomWrites()
		defer release()
		tt.sayAcked(alice, "!r", "$one", "hello")
		conn := tt.conn() // dialing does not wait
		synctest.Wait()
		tt.noTurn(conn, "before the record was written")
		release()
		if turn := tt.turn(conn); turn.Msg.Text != "hello" {
			t.Fatalf("the turn is %q, want hello", turn.Msg.Text)
		}
	})
}

// A !new is acked only once its chat exists: a kill while the room is
// being made has the homeserver deliver the command again instead of
// losing it. So is an invite, whose onboarding makes the Space.
func TestANewChatIsAckedOnceItExists(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newSeededTree(t, actors.Options{}, func(tt *testTree) { tt.addRoom(alice, "!r", "101") })
		synctest.Wait()
		release := tt.Matrix.Block("CreateChatRoom")
		defer release()
		cmd := tt.sayAcked(alice, "!r", "$new", "!new")
		synctest.Wait()
		if cmd.done() {
			t.Fatal("!new acked before its chat was made")
		}
		m := tt.mark()
		release()
		tt.waitCall(m, "CreateChatRoom", "", "")
		synctest.Wait()
		if !cmd.done() {
			t.Fatal("!new not acked once its chat was made")
		}

		release = tt.Matrix.Block("CreateSpace")
		defer release()
		invite := newAcked()
		tt.send(&actors.InviteReceived{RoomID: "!dm-bob", Inviter: bob, IsDirect: true, Ack: invite.ack})
		synctest.Wait()
		if invite.done() {
			t.Fatal("the invite was acked before its onboarding made the Space")
		}
		release()
		synctest.Wait()
		if !invite.done() {
			t.Fatal("the invite was not acked after onboarding")
		}
	})
}

// A room actor that crashes while a file downloads hands the file to its
// successor, which fetches it again: the file is staged once and its event
// acked, instead of lost with its ack left to the timeout.
func TestAFileBeingDownloadedSurvivesACrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newSeededTree(t, actors.Options{RoomMiddleware: []actor.ReceiverMiddleware{actortest.CrashOnCrash}},
			func(tt *testTree) { tt.addRoom(alice, "!r", "101") })
		synctest.Wait()
		release := tt.Matrix.Block("Download")
		defer release()
		data := []byte("the report")
		tt.Matrix.AddMedia("mxc://example.test/report.pdf", data)
		file := newAcked()
		tt.send(&actors.MessageReceived{RoomID: "!r", EventID: "$file", Sender: alice, MsgType: "m.file",
			Media: &actors.Media{URL: "mxc://example.test/report.pdf", FileName: "report.pdf", Size: int64(len(data))}, Ack: file.ack})
		synctest.Wait()
		if file.done() {
			t.Fatal("the file's event was acked while it downloads")
		}

		room := actor.NewPID(tt.System.Address(), actors.RoomActorID(alice, "!r"))
		tt.System.Root.Send(room, &actortest.Crash{Reason: "injected crash"})
		actortest.FishForMsg[*actors.RoomRestarted](tt.Probe, nil)
		m := tt.mark()
		release()
		tt.waitCall(m, "SendNotice", "!r", "Got **report\\.pdf**")
		synctest.Wait()
		if !file.done() {
			t.Fatal("the file's event was not acked after the restarted room staged it")
		}
		r, err := tt.Store.GetRoom(t.Context(), "!r")
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Staged) != 1 {
			t.Fatalf("%d files staged, want the one sent", len(r.Staged))
		}
	})
}

// A record write that fails does not ack its message: the sync position
// stays before it, so a restart has it delivered again. The turn does not
// reach the agent unrecorded; the user is told once, the operator sees
// RecordWriteFailed; the room writes again with a backoff, and once a write
// lands the message is acked and answered (issue 19, point 4).
func TestAFailedWriteHoldsTheAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newSeededTree(t, actors.Options{}, func(tt *testTree) { tt.addRoom(alice, "!r", "101") })
		synctest.Wait()
		tt.Store.FailWrites(errDiskGone)
		m := tt.mark()
		a := tt.sayAcked(alice, "!r", "$one", "hello")
		notice := tt.waitCall(m, "SendNotice", "!r", "can't save")
		actortest.FishForMsg(tt.Probe, func(e *actors.RecordWriteFailed) bool { return e.RoomID == "!r" && e.Attempt == 1 })
		actortest.Advance(t, 10*time.Second) // several attempts, all failing
		if a.done() {
			t.Fatal("the message was acked while no write of it landed")
		}
		conn, dialed := tt.Agents.TryNextConn() // dialing ahead of the record is fine
		if dialed {
			if turn, started := conn.TryNextTurn(); started {
				t.Fatalf("the turn %q reached the agent before it was recorded", turn.Msg.Text)
			}
		}
		if n := len(tt.Matrix.CallsSince(m, "SendNotice")); n != 1 {
			t.Fatalf("%d notices during one run of failed writes, want 1 (%q)", n, notice.Text)
		}
		tt.Store.FailWrites(nil)
		actortest.Advance(t, 30*time.Second) // the longest backoff
		actortest.FishForMsg(tt.Probe, func(e *actors.RecordWritesRecovered) bool { return e.RoomID == "!r" })
		synctest.Wait()
		if !a.done() {
			t.Fatal("the message was not acked once its record was written")
		}
		if !dialed {
			conn = tt.conn()
		}
		turn := tt.turn(conn)
		if turn.Msg.Text != "hello" {
			t.Fatalf("turn %q, want the held message", turn.Msg.Text)
		}
		turn.Emit(actortest.End(0))
		tt.turnEnded("!r")
	})
}

// A !new delivered again after a kill that came once its chat was stored
// but before the sync position passed it finds that chat: no second room,
// a pointer to the first, and the event acked (issue 19, point 6).
func TestANewDeliveredAgainFindsItsChat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newSeededTree(t, actors.Options{}, func(tt *testTree) { tt.addRoom(alice, "!r", "101") })
		synctest.Wait()
		m := tt.mark()
		tt.sayAcked(alice, "!r", "$new", "!new")
		first := tt.waitCall(m, "SendNotice", "!r", "I made")
		synctest.Wait()

		// The bot starts again on the same store (the kill lost nothing
		// but the sync position) and the homeserver delivers $new again.
		if err := tt.System.Root.StopFuture(tt.root).Wait(); err != nil {
			t.Fatal(err)
		}
		tt.root = tt.SpawnTree()
		m = tt.mark()
		again := tt.sayAcked(alice, "!r", "$new", "!new")
		pointer := tt.waitCall(m, "SendNotice", "!r", "I made")
		synctest.Wait()
		if calls := tt.Matrix.CallsSince(m, "CreateChatRoom"); len(calls) != 0 {
			t.Fatalf("the second delivery of one !new made another chat (%d rooms)", len(calls))
		}
		if pointer.Text != first.Text {
			t.Fatalf("the pointer %q does not lead to the chat the first delivery made (%q)", pointer.Text, first.Text)
		}
		// The first delivery may have been cut before the user was
		// invited: the second invites them again.
		invites := tt.Matrix.CallsSince(m, "Invite")
		if len(invites) != 1 || !strings.Contains(pointer.Text, invites[0].RoomID) {
			t.Fatalf("invites %+v after the second delivery, want one to the chat it points to", invites)
		}
		if !again.done() {
			t.Fatal("the second delivery was not acked")
		}
	})
}

// A command that changes the room is acked once its effect is in the
// record, not when decided: a kill before that has it delivered again. One
// that landed is taken: a second delivery does not run it again (issue 19,
// point 3).
func TestACommandIsAckedOnceItsEffectIsDurable(t *testing.T) {
	for _, tc := range []struct{ command, done string }{
		{"!clear", "Fresh start"},
		{"!rename Plans", "Plans"},
		{"!save", "Saved"},
	} {
		t.Run(tc.command, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newSeededTree(t, actors.Options{}, func(tt *testTree) { tt.addRoom(alice, "!r", "101") })
				synctest.Wait()
				release := tt.Store.HoldRoomWrites()
				defer release()
				m := tt.mark()
				cmd := tt.sayAcked(alice, "!r", "$cmd", tc.command)
				tt.waitCall(m, "SendNotice", "!r", tc.done)
				synctest.Wait()
				if cmd.done() {
					t.Fatalf("%s acked before the record holding its effect was written", tc.command)
				}
				release()
				synctest.Wait()
				if !cmd.done() {
					t.Fatalf("%s not acked once its effect was written", tc.command)
				}
				before, err := tt.Store.GetRoom(t.Context(), "!r")
				if err != nil {
					t.Fatal(err)
				}

				m = tt.mark()
				again := tt.sayAcked(alice, "!r", "$cmd", tc.command)
				synctest.Wait()
				if calls := tt.Matrix.CallsSince(m, "SendNotice"); len(calls) != 0 {
					t.Fatalf("a second delivery of %s ran it again: %q", tc.command, calls[0].Text)
				}
				after, err := tt.Store.GetRoom(t.Context(), "!r")
				if err != nil {
					t.Fatal(err)
				}
				if after.PlatformChatID != before.PlatformChatID || after.Name != before.Name {
					t.Fatalf("a second delivery of %s changed the room: %s %q, was %s %q", tc.command,
						after.PlatformChatID, after.Name, before.PlatformChatID, before.Name)
				}
				if !again.done() {
					t.Fatal("the second delivery was not acked")
				}
			})
		})
	}
}
