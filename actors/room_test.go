package actors_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/catalog"
)

func TestTurnsInOneRoomAreSequentialAndInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r1", "7")
		for _, text := range []string{"one", "two", "three"} {
			tt.say(alice, "!r1", text)
		}
		conn := tt.conn()
		if conn.ChatID != "7" || conn.Agent.ID != "agent-0" {
			t.Fatalf("dialed %s/%s, want agent-0/7", conn.Agent.ID, conn.ChatID)
		}
		for i, want := range []string{"one", "two", "three"} {
			turn := tt.turn(conn)
			if turn.Msg.Text != want {
				t.Fatalf("turn %d got %q, want %q", i, turn.Msg.Text, want)
			}
			// While this turn runs, no other turn may start on the connection.
			synctest.Wait()
			tt.noTurn(conn, fmt.Sprintf("while %q was running", want))
			turn.Emit(actortest.Text("re: "+want), actortest.End(3))
			tt.turnEnded("!r1")
		}
		var replies []string
		for _, c := range tt.Matrix.Calls("SendText") {
			replies = append(replies, c.Text)
		}
		if want := []string{"re: one", "re: two", "re: three"}; !slices.Equal(replies, want) {
			t.Fatalf("replies %q, want %q", replies, want)
		}
		if n := len(tt.Agents.Dials()); n != 1 {
			t.Fatalf("dialed %d times, want the connection reused", n)
		}
	})
}

func TestTwoRoomsRunInParallel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!a", "1")
		tt.addRoom(bob, "!b", "2")
		tt.say(alice, "!a", "to a")
		tt.say(bob, "!b", "to b")
		// Both turns are open at the same time: neither waits for the other.
		turns := map[string]*actortest.Turn{}
		for range 2 {
			c := tt.conn()
			turns[c.ChatID] = tt.turn(c)
		}
		turns["2"].Emit(actortest.Text("b done"), actortest.End(0))
		if e := tt.turnEnded("!b"); e.Err != nil {
			t.Fatal(e.Err)
		}
		turns["1"].Emit(actortest.Text("a done"), actortest.End(0))
		tt.turnEnded("!a")
	})
}

func TestQueueOverflowGetsANotice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{QueueSize: 2})
		tt.addRoom(alice, "!r", "1")
		tt.say(alice, "!r", "running")
		conn := tt.conn()
		first := tt.turn(conn)
		tt.say(alice, "!r", "queued 1")
		tt.say(alice, "!r", "queued 2")
		m := tt.mark()
		rejected := tt.say(alice, "!r", "overflow")
		if got := actortest.FishForMsg[*actors.MessageRejected](tt.Probe, nil); got.EventID != rejected {
			t.Fatalf("rejected %s, want %s", got.EventID, rejected)
		}
		tt.waitCall(m, "SendNotice", "!r", "Too many messages")
		first.Emit(actortest.End(0))
		for _, want := range []string{"queued 1", "queued 2"} {
			turn := tt.turn(conn)
			if turn.Msg.Text != want {
				t.Fatalf("got %q, want %q", turn.Msg.Text, want)
			}
			turn.Emit(actortest.Text("ok"), actortest.End(0))
		}
		synctest.Wait()
		tt.noTurn(conn, "the refused message reached the agent")
	})
}

func TestCrashedRoomRestartsWithItsStateAndSiblingsCarryOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{RoomMiddleware: []actor.ReceiverMiddleware{actortest.CrashOnCrash}})
		tt.addRoom(alice, "!crash", "11")
		tt.addRoom(alice, "!sibling", "12")
		tt.say(alice, "!crash", "first")
		tt.say(alice, "!sibling", "calm")
		conns := map[string]*actortest.Conn{}
		turns := map[string]*actortest.Turn{}
		for range 2 {
			c := tt.conn()
			conns[c.ChatID], turns[c.ChatID] = c, tt.turn(c)
		}
		m := tt.mark()
		turns["11"].Emit(actortest.Text("partial"))
		tt.waitCall(m, "SendText", "!crash", "partial")
		tt.say(alice, "!crash", "waiting in the queue")
		synctest.Wait()

		room := actor.NewPID(tt.System.Address(), actors.RoomActorID(alice, "!crash"))
		m = tt.mark()
		tt.System.Root.Send(room, &actortest.Crash{Reason: "injected crash"})
		if ev := tt.Probe.ExpectRestart(room); ev.Reason != "injected crash" {
			t.Fatalf("restarted for %v, want the injected crash", ev.Reason)
		}
		actortest.FishForMsg[*actors.RoomRestarted](tt.Probe, nil)
		tt.waitCall(m, "SendNotice", "!crash", "Something went wrong on my side")

		// The sibling's turn is untouched and finishes normally.
		m = tt.mark()
		turns["12"].Emit(actortest.Text("sibling reply"), actortest.End(0))
		tt.waitCall(m, "SendText", "!sibling", "sibling reply")

		// The restarted actor kept the queued message and its platform_chat_id.
		conn := tt.conn()
		if conn.ChatID != "11" {
			t.Fatalf("after restart dialed chat %s, want 11", conn.ChatID)
		}
		turn := tt.turn(conn)
		if turn.Msg.Text != "waiting in the queue" {
			t.Fatalf("after restart got %q", turn.Msg.Text)
		}
		m = tt.mark()
		turn.Emit(actortest.Text("back"), actortest.End(0))
		tt.waitCall(m, "SendText", "!crash", "back")
		synctest.Wait()
		if !conns["11"].Closed() {
			t.Fatal("the crashed actor's connection was left open")
		}
	})
}

func TestStreamingEditsAreThrottledAndFinalIsComplete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{EditInterval: time.Second})
		tt.addRoom(alice, "!r", "1")
		tt.say(alice, "!r", "go")
		turn := tt.turn(tt.conn())
		var want strings.Builder
		for i := range 40 {
			chunk := fmt.Sprintf("w%d ", i)
			want.WriteString(chunk)
			turn.Emit(actortest.Text(chunk))
			actortest.Advance(t, 100*time.Millisecond) // the agent streams for 4 s
		}
		turn.Emit(actors.AgentEvent{Kind: actors.AgentToolCall, Name: "search"})
		synctest.Wait()
		turn.Emit(actortest.End(0))
		tt.turnEnded("!r")
		synctest.Wait()
		sends := tt.Matrix.Calls("SendText")
		edits := tt.Matrix.Calls("EditText")
		if len(sends) != 1 {
			t.Fatalf("%d sends, want 1", len(sends))
		}
		// The first words went out alone, at once, not held for more.
		if sends[0].Text != "w0 " {
			t.Fatalf("the reply's first message says %q, want the first chunk alone", sends[0].Text)
		}
		// 4 s of streaming at one edit per second: a handful, not one per chunk.
		if len(edits) < 2 || len(edits) > 7 {
			t.Fatalf("%d edits for 40 chunks over 4 s, want 2..7", len(edits))
		}
		for _, e := range edits {
			if e.EventID != sends[0].EventID {
				t.Fatalf("edit of %s, want %s", e.EventID, sends[0].EventID)
			}
		}
		if final := edits[len(edits)-1].Text; final != strings.TrimSpace(want.String()) && final != want.String() {
			t.Fatalf("final edit %q, want the complete text", final)
		}
		if strings.Contains(edits[len(edits)-1].Text, "⚙") {
			t.Fatal("the progress line stayed in the final text")
		}
		typing := tt.Matrix.Calls("SetTyping")
		if len(typing) < 2 || !typing[0].Typing || typing[len(typing)-1].Typing {
			t.Fatalf("typing calls %+v, want on ... off", typing)
		}
	})
}

// TestAnAnswerSentAtOnceIsPostedWhole: the chunks and the end an agent
// sent together go out as one message, not its first words and an edit a
// moment later (a streaming agent's first words still go out alone, at
// once: TestStreamingEditsAreThrottledAndFinalIsComplete).
func TestAnAnswerSentAtOnceIsPostedWhole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.Agents.Script = func(actors.UserMessage) []actors.AgentEvent {
			return []actors.AgentEvent{actortest.Text("all "), actortest.Text("at "), actortest.Text("once"), actortest.End(0)}
		}
		tt.addRoom(alice, "!r", "1")
		m := tt.mark()
		tt.say(alice, "!r", "go")
		tt.turnEnded("!r")
		synctest.Wait()
		posts := tt.Matrix.CallsSince(m, "SendText", "EditText")
		if len(posts) != 1 || posts[0].Method != "SendText" || posts[0].Text != "all at once" {
			t.Fatalf("posts %+v, want one message with the whole answer", posts)
		}
	})
}

func TestAgentFailuresBecomeNoticesAndTheNextMessageWorks(t *testing.T) {
	tests := []struct {
		name   string
		fail   func(*actortest.Turn, *actortest.Conn)
		notice string
	}{
		{"error frame", func(tu *actortest.Turn, _ *actortest.Conn) {
			tu.Emit(actortest.Failed(fmt.Errorf("agent: %w", actors.ErrAgentReported), "model overloaded"))
		}, "The agent reported an error: model overloaded"},
		{"timeout", func(tu *actortest.Turn, _ *actortest.Conn) {
			tu.Emit(actortest.Failed(actors.ErrAgentTimeout, ""))
		}, "stopped responding"},
		{"garbage", func(tu *actortest.Turn, _ *actortest.Conn) {
			tu.Emit(actortest.Failed(actors.ErrAgentProtocol, ""))
		}, "could not understand"},
		{"dropped", func(_ *actortest.Turn, c *actortest.Conn) { c.Drop(errors.New("gone")) }, "connection to the agent was lost"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newTestTree(t, actors.Options{})
				tt.addRoom(alice, "!r", "1")
				tt.say(alice, "!r", "hello")
				conn := tt.conn()
				turn := tt.turn(conn)
				m := tt.mark()
				turn.Emit(actortest.Text("partial answer"))
				tt.waitCall(m, "SendText", "!r", "partial answer")
				m = tt.mark()
				tc.fail(turn, conn)
				tt.waitCall(m, "EditText", "!r", "partial answer\n\n"+tt.Catalog.T(catalog.Incomplete))
				tt.waitCall(m, "SendNotice", "!r", tc.notice)
				if e := tt.turnEnded("!r"); e.Err == nil {
					t.Fatal("TurnEnded without error")
				}

				synctest.Wait() // a connection the failure ended is closed by now
				tt.say(alice, "!r", "again")
				next := conn
				if conn.Closed() {
					next = tt.conn()
				}
				turn = tt.turn(next)
				m = tt.mark()
				turn.Emit(actortest.Text("fine now"), actortest.End(0))
				tt.waitCall(m, "SendText", "!r", "fine now")
			})
		})
	}
}

func TestUnreachableAgentGetsANotice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "1")
		tt.Agents.FailDials(errors.New("connection refused"))
		m := tt.mark()
		tt.say(alice, "!r", "hello")
		tt.waitCall(m, "SendNotice", "!r", "can't be reached")
		tt.Agents.FailDials(nil)
		tt.say(alice, "!r", "again")
		turn := tt.turn(tt.conn())
		m = tt.mark()
		turn.Emit(actortest.Text("up"), actortest.End(0))
		tt.waitCall(m, "SendText", "!r", "up")
	})
}

func TestLongReplyIsSplit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{MaxMessageBytes: 1024})
		tt.addRoom(alice, "!r", "1")
		tt.say(alice, "!r", "essay please")
		turn := tt.turn(tt.conn())
		long := strings.Repeat("sentence ", 500)
		turn.Emit(actortest.Text(long), actortest.End(0))
		tt.turnEnded("!r")
		var got []string
		for _, c := range tt.Matrix.Calls("SendText") {
			if len(c.Text) > 1024 {
				t.Fatalf("a part has %d bytes", len(c.Text))
			}
			got = append(got, strings.Fields(c.Text)...)
		}
		if strings.Join(got, " ") != strings.TrimSpace(long) {
			t.Fatal("the parts do not add up to the reply")
		}
		if len(tt.Matrix.Calls("SendText")) < 4 {
			t.Fatal("reply was not split")
		}
	})
}

func TestRestartReportsCutOffTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newSeededTree(t, actors.Options{}, func(tt *testTree) {
			tt.addRoom(alice, "!r", "1")
			tt.addRoom(alice, "!calm", "2")
			r, _ := tt.Store.GetRoom(t.Context(), "!r")
			r.TurnInFlight = &actors.InFlightTurn{EventID: "$old"}
			if err := tt.Store.PutRoom(t.Context(), r); err != nil {
				t.Fatal(err)
			}
		})
		// The notice comes at start-up, before the user writes again, and
		// only in the room whose turn was cut off; nothing is replayed.
		tt.waitCall(0, "SendNotice", "!r", "I restarted while answering") // 0: from start-up on
		synctest.Wait()
		if n := len(tt.Matrix.Calls("SendNotice", "SendText", "EditText")); n != 1 {
			t.Fatalf("%d messages at start-up, want the one notice: %+v", n, tt.Matrix.Calls())
		}
		if d := tt.Agents.Dials(); len(d) != 0 {
			t.Fatalf("the cut-off turn was replayed to the agent: %v", d)
		}
		if r, _ := tt.Store.GetRoom(t.Context(), "!r"); r.TurnInFlight != nil {
			t.Fatal("TurnInFlight not cleared")
		}
		tt.say(alice, "!r", "after restart")
		turn := tt.turn(tt.conn())
		if turn.Msg.Text != "after restart" {
			t.Fatalf("got %q", turn.Msg.Text)
		}
		turn.Emit(actortest.End(0))
		tt.turnEnded("!r")
	})
}

func TestUndeliverableReplyIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "1")
		tt.Matrix.Fail("SendText", errors.New("M_TOO_LARGE"))
		tt.say(alice, "!r", "hello")
		conn := tt.conn()
		turn := tt.turn(conn)
		m := tt.mark()
		turn.Emit(actortest.Text("a reply Matrix refuses"), actortest.End(0))
		tt.waitCall(m, "SendNotice", "!r", "could not be shown here")
		tt.Matrix.Fail("SendText", nil)
		// The room carries on.
		tt.say(alice, "!r", "again")
		turn = tt.turn(conn)
		m = tt.mark()
		turn.Emit(actortest.Text("shown"), actortest.End(0))
		tt.waitCall(m, "SendText", "!r", "shown")
	})
}

// A dial that completes after its room actor restarted closes the
// connection: no socket or goroutine is left behind.
func TestALateDialIsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{RoomMiddleware: []actor.ReceiverMiddleware{actortest.CrashOnCrash}})
		tt.addRoom(alice, "!r", "101")
		release := tt.Agents.HoldDials()
		tt.say(alice, "!r", "hello")
		synctest.Wait() // the dial is in flight
		room := actor.NewPID(tt.System.Address(), actors.RoomActorID(alice, "!r"))
		tt.System.Root.Send(room, &actortest.Crash{Reason: "crash while dialing"})
		tt.Probe.ExpectRestart(room)
		release()
		late := tt.conn()
		synctest.Wait()
		if !late.Closed() {
			t.Fatal("the connection dialed for the crashed incarnation was left open")
		}
		// The cut-off message can be retried on a fresh connection.
		tt.say(alice, "!r", "!retry")
		fresh := tt.conn()
		if fresh == late {
			t.Fatal("the late connection was reused")
		}
		turn := tt.turn(fresh)
		if turn.Msg.Text != "hello" {
			t.Fatalf("!retry sent %q", turn.Msg.Text)
		}
		turn.Emit(actortest.End(0))
	})
}
