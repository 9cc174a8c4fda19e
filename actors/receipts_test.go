package actors_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// A message is marked read when its turn starts; messages waiting in the
// queue are not (PRODUCT R3.9). A command is marked read at once.
func TestReadReceiptsFollowTheTurns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		read := func() []string {
			var ids []string
			for _, c := range tt.Matrix.Calls("MarkRead") {
				ids = append(ids, c.EventID)
			}
			return ids
		}
		first := tt.say(alice, "!r", "running")
		conn := tt.conn()
		turn := tt.turn(conn)
		var waiting []string
		for _, text := range []string{"q1", "q2", "q3"} {
			waiting = append(waiting, tt.say(alice, "!r", text))
		}
		synctest.Wait()
		if got := read(); !slices.Equal(got, []string{first}) {
			t.Fatalf("receipts while the first turn runs: %q, want only %s", got, first)
		}
		want := []string{first}
		for _, id := range waiting {
			turn.Emit(actortest.End(0))
			turn = tt.turn(conn)
			synctest.Wait()
			want = append(want, id)
			if got := read(); !slices.Equal(got, want) {
				t.Fatalf("receipts %q, want %q: each message only when its turn starts", got, want)
			}
		}
		turn.Emit(actortest.End(0))

		help := tt.say(alice, "!r", "!help")
		synctest.Wait()
		if got := read(); got[len(got)-1] != help {
			t.Fatalf("receipts %q: the command %s was not marked read", got, help)
		}
	})
}

// With streaming.typing_after, a reply quicker than it comes without a
// typing notice, its message's receipt right after it; a slower one gets
// the receipt and typing once the delay passes, and typing off at the end;
// a turn that fails before it still marks its message read (PRODUCT R3.3,
// R3.9).
func TestTypingAfterADelay(t *testing.T) {
	const after = 500 * time.Millisecond
	methods := []string{"SendText", "EditText", "SendNotice", "MarkRead", "SetTyping"}
	for _, tc := range []struct {
		name  string
		delay time.Duration // before the agent answers
		fail  bool
		want  []string // the calls of the turn, in order
		// hold keeps the reply's first message at the homeserver this
		// long (a homeserver behind, as in a burst).
		hold time.Duration
	}{
		{"an instant reply", 0, false, []string{"SendText", "MarkRead"}, 0},
		{"a reply just under the delay", after - time.Millisecond, false, []string{"SendText", "MarkRead"}, 0},
		{"a slow reply", 2 * after, false, []string{"MarkRead", "SetTyping on", "SendText", "SetTyping off"}, 0},
		{"a quick failure", 0, true, []string{"MarkRead", "SendNotice"}, 0},
		{"a quick first chunk of a long stream", 0, false, []string{"SendText", "MarkRead", "SetTyping on", "SetTyping off"}, 0},
		// The agent done at once, the reply slow to land: the receipt at
		// the delay (before the send returns), no typing flashing on and
		// off around the reply.
		{"an instant reply the homeserver is slow to take", 0, false, []string{"MarkRead", "SendText"}, 2 * after},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newTestTree(t, actors.Options{TypingAfter: after})
				tt.addRoom(alice, "!r", "101")
				m := tt.mark()
				msg := tt.say(alice, "!r", "hello")
				turn := tt.turn(tt.conn())
				time.Sleep(tc.delay)
				switch {
				case tc.fail:
					turn.Emit(actortest.Failed(errors.New("boom"), ""))
				case len(tc.want) == 4 && tc.want[0] == "SendText":
					// The first message lands at once and takes its receipt
					// with it; typing comes once the stream outlasts the delay.
					turn.Emit(actortest.Text("hi"))
					synctest.Wait()
					if len(tt.Matrix.CallsSince(m, "MarkRead")) != 1 {
						t.Fatal("no receipt once the reply's first message landed")
					}
					time.Sleep(2 * after)
					turn.Emit(actortest.End(1))
				case tc.hold > 0:
					release := tt.Matrix.Block("SendText")
					turn.Emit(actortest.Text("hi"), actortest.End(1))
					synctest.Wait()
					time.Sleep(tc.hold)
					release()
				default:
					turn.Emit(actortest.Text("hi"), actortest.End(1))
				}
				tt.turnEnded("!r")
				synctest.Wait()
				var got []string
				for _, c := range tt.Matrix.CallsSince(m, methods...) {
					switch c.Method {
					case "SetTyping":
						got = append(got, map[bool]string{true: "SetTyping on", false: "SetTyping off"}[c.Typing])
					case "MarkRead":
						if c.EventID != msg {
							t.Fatalf("receipt for %s, want %s", c.EventID, msg)
						}
						got = append(got, c.Method)
					case "EditText":
					default:
						got = append(got, c.Method)
					}
				}
				// The receipt, typing and a notice go out concurrently: their
				// order before the reply's first message is not the actor's
				// to keep (what comes after it is: the receipt waits for it).
				normalize := func(calls []string) []string {
					calls = slices.Clone(calls)
					i := slices.Index(calls, "SendText")
					if i < 0 {
						i = len(calls)
					}
					slices.Sort(calls[:i])
					return calls
				}
				if !slices.Equal(normalize(got), normalize(tc.want)) {
					t.Fatalf("calls %q, want %q", got, tc.want)
				}
			})
		})
	}
}

// A reply the agent finished shows typing past the delay while a file of
// it uploads, or while its text waits for the turn's ending record: only a
// reply whose text alone is left, on its way to the homeserver, goes
// without (see TestTypingAfterADelay).
func TestTypingWhileAFileUploadsOrTheRecordWaits(t *testing.T) {
	const after = 500 * time.Millisecond
	for _, tc := range []struct {
		name  string
		reply []actors.AgentEvent
		// hold keeps the reply from going on until the returned release.
		hold func(tt *testTree) (release func())
	}{
		{"the ending record waits", []actors.AgentEvent{actortest.Text("hi"), actortest.End(0)},
			func(tt *testTree) func() { return tt.Store.HoldRoomWrites() }},
		{"a file uploads", []actors.AgentEvent{actortest.Text("Here:"), {Kind: actors.AgentSendFile, Path: "output/notes.txt"}, actortest.End(0)},
			func(tt *testTree) func() { return tt.Matrix.Block("SendFile") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newTestTree(t, actors.Options{TypingAfter: after})
				tt.addRoom(alice, "!r", "101")
				out := filepath.Join(tt.Volume, "0", "output")
				if err := os.MkdirAll(out, 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("notes"), 0o640); err != nil {
					t.Fatal(err)
				}
				m := tt.mark()
				tt.say(alice, "!r", "hello")
				turn := tt.turn(tt.conn())
				release := tc.hold(tt)
				turn.Emit(tc.reply...)
				synctest.Wait()
				time.Sleep(2 * after)
				release()
				tt.turnEnded("!r")
				synctest.Wait()
				var typing []bool
				for _, c := range tt.Matrix.CallsSince(m, "SetTyping") {
					typing = append(typing, c.Typing)
				}
				if !slices.Equal(typing, []bool{true, false}) {
					t.Fatalf("typing went %v while %s past the delay, want on, then off", typing, tc.name)
				}
			})
		})
	}
}
