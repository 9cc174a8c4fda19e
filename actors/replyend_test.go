package actors_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// A reply's last post carries the mark of the message it answers, and only
// the last: streaming posts, the earlier parts of a long reply and a failed
// turn's last post carry none. A room whose holder stopped after the last
// post but before the record said so finds the mark and stays silent.

// streamFirst has the agent stream the reply's first words to room !r and
// waits for the message that shows them.
func (tt *testTree) streamFirst(turn *actortest.Turn, m actortest.Mark) {
	tt.t.Helper()
	turn.Emit(actortest.Text("first "))
	tt.waitCall(m, "SendText", "!r", "first")
}

func TestOnlyAReplysLastPostIsMarked(t *testing.T) {
	tests := []struct {
		name string
		run  func(tt *testTree, turn *actortest.Turn, m actortest.Mark)
		// lastMarked is whether the reply's last post ends it; no other
		// post may.
		lastMarked bool
	}{
		{"one post streamed, then its final edit", func(tt *testTree, turn *actortest.Turn, m actortest.Mark) {
			tt.streamFirst(turn, m)
			turn.Emit(actortest.Text("and last"), actortest.End(0))
		}, true},
		{"a reply whose end brings more parts", func(tt *testTree, turn *actortest.Turn, m actortest.Mark) {
			tt.streamFirst(turn, m)
			turn.Emit(actortest.Text(strings.Repeat("word ", 400)), actortest.End(0))
		}, true},
		// The post went out on the text, before the end came: nothing
		// is left to post once it has, so nothing carries the mark. A
		// holder stopped while its answer is on the way back, or before
		// the record's write, leaves a reply the next one calls cut (see
		// room/cut.go).
		{"a reply whose only post went out before its end", func(tt *testTree, turn *actortest.Turn, m actortest.Mark) {
			turn.Emit(actortest.Text("all at once"))
			tt.waitCall(m, "SendText", "!r", "all at once")
			turn.Emit(actortest.End(0))
		}, false},
		// The end came while the post waited to be sent (behind other
		// rooms' posts, or the homeserver's rate limit): it goes out
		// marked.
		{"a reply whose only post waited to be sent when the end came", func(tt *testTree, turn *actortest.Turn, m actortest.Mark) {
			release := tt.Matrix.Block("SendText")
			turn.Emit(actortest.Text("all at once"))
			synctest.Wait()
			turn.Emit(actortest.End(0))
			synctest.Wait()
			release()
		}, true},
		{"a post that waited to be sent when more text came, then the end", func(tt *testTree, turn *actortest.Turn, m actortest.Mark) {
			release := tt.Matrix.Block("SendText")
			turn.Emit(actortest.Text("first "))
			synctest.Wait()
			turn.Emit(actortest.Text("second"), actortest.End(0))
			synctest.Wait()
			release()
		}, true},
		{"a streaming edit that waited to be sent when the end came", func(tt *testTree, turn *actortest.Turn, m actortest.Mark) {
			tt.streamFirst(turn, m)
			release := tt.Matrix.Block("EditText")
			turn.Emit(actortest.Text("second"))
			time.Sleep(3 * time.Second) // virtual: the edit's interval passes, not NotifyAfter
			synctest.Wait()
			turn.Emit(actortest.End(0))
			synctest.Wait()
			release()
		}, true},
		{"a failed turn", func(tt *testTree, turn *actortest.Turn, m actortest.Mark) {
			turn.Emit(actortest.Text("half "))
			tt.waitCall(m, "SendText", "!r", "half")
			turn.Emit(actortest.Failed(errors.New("agent fell over"), ""))
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newTestTree(t, actors.Options{MaxMessageBytes: 1200})
				tt.addRoom(alice, "!r", "1")
				m := tt.mark()
				asked := tt.say(alice, "!r", "go")
				tc.run(tt, tt.turn(tt.conn()), m)
				tt.turnEnded("!r")
				synctest.Wait()
				posts := tt.Matrix.CallsSince(m, "SendText", "EditText")
				for i, c := range posts {
					want := ""
					if i == len(posts)-1 && tc.lastMarked {
						want = asked
					}
					if c.Ends != want {
						t.Fatalf("post %d of %d ends the reply to %q, want %q: %+v", i+1, len(posts), c.Ends, want, posts)
					}
				}
			})
		})
	}
}

// TestRestartAfterTheReplyEnded: a room that starts with a turn in flight
// that was ending with an edit makes that edit again, marked, and tells
// its user nothing, whether or not the first one landed; it asks the
// homeserver only when the edit is refused. One that was ending with a new
// message tells its user the reply was cut unless the homeserver holds the
// reply's marked last post; a refused question is asked again, and only
// when the homeserver never answers is the user told. A turn that was not
// ending is told at once, the homeserver not asked. Either way the message
// queued behind the turn runs after that, and the record's turn is ended.
func TestRestartAfterTheReplyEnded(t *testing.T) {
	const always = -1
	tests := []struct {
		name string
		// landed is the message whose reply's last post the homeserver
		// holds ("" for none).
		landed string
		// refusals is how many questions the homeserver refuses.
		refusals int
		// streaming: the record does not say the turn was ending.
		streaming bool
		// lastEdit: the record names the last post, an edit of $first;
		// editRefused: the homeserver refuses it when made again.
		lastEdit, editRefused bool
		wantNotice            bool
	}{
		{"the last post landed", "$cut", 0, false, false, false, false},
		{"no last post", "", 0, false, false, false, true},
		{"another message's last post", "$earlier", 0, false, false, false, true},
		{"refused twice, then the last post found", "$cut", 2, false, false, false, false},
		{"the homeserver never says", "$cut", always, false, false, false, true},
		// The homeserver would say the reply ended (a last post cannot
		// carry the mark without the record saying ending first): the
		// record alone decides, and nothing is asked.
		{"cut while streaming", "$cut", 0, true, false, false, true},
		{"the last edit, not landed, is made again", "", 0, false, true, false, false},
		{"the last edit, landed, is made again", "$cut", 0, false, true, false, false},
		// A refused edit may still have landed (an answer lost): the
		// homeserver is asked, and the fake says it landed.
		{"the last edit refused: the homeserver asked", "", 0, false, true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newSeededTree(t, actors.Options{}, func(tt *testTree) {
					r := tt.AddRoom(alice, "!r", "1")
					r.TurnInFlight = &actors.InFlightTurn{EventID: "$cut", Text: "the question", Ending: !tc.streaming}
					if tc.lastEdit {
						r.TurnInFlight.LastEdit = &actors.ReplyEdit{EventID: "$first", Text: "the whole answer"}
					}
					if tc.editRefused {
						tt.Matrix.Fail("EditText", errors.New("M_FORBIDDEN: no"))
					}
					r.Queue = []actors.QueuedMessage{{EventID: "$next", Sender: alice, Text: "next one"}}
					if err := tt.Store.PutRoom(t.Context(), r); err != nil {
						t.Fatal(err)
					}
					if tc.landed != "" {
						ctx := actors.EndingReply(context.Background(), tc.landed)
						if err := tt.Matrix.EditText(ctx, "!r", "$first", "the whole answer"); err != nil {
							t.Fatal(err)
						}
					}
					if tc.refusals != 0 {
						tt.Matrix.Fail("ReplyEnded", errors.New("M_UNKNOWN: the homeserver is busy"))
					}
				})
				if tc.refusals > 0 {
					go func() {
						_, err := tt.Matrix.WaitCall(0, time.Hour, func(c actortest.Call) bool {
							return c.Method == "ReplyEnded" && len(tt.Matrix.Calls("ReplyEnded")) >= tc.refusals
						})
						if err == nil {
							tt.Matrix.Fail("ReplyEnded", nil)
						}
					}()
				}
				if tc.refusals == always {
					time.Sleep(4 * time.Minute) // the room's whole wait for an answer
				}
				turn := tt.turn(tt.conn())
				if turn.Msg.Text != "next one" {
					t.Fatalf("the first turn after the restart is %q, want the queued message", turn.Msg.Text)
				}
				synctest.Wait()
				var notices []string
				for _, c := range tt.Matrix.Calls("SendNotice") {
					notices = append(notices, c.Text)
				}
				told := len(notices) == 1 && strings.Contains(notices[0], "I restarted while answering")
				if told != tc.wantNotice || len(notices) > 1 {
					t.Fatalf("notices %q, want the cut notice %t", notices, tc.wantNotice)
				}
				// The queued message waited for the answer.
				asked := tt.Matrix.Calls("ReplyEnded")
				wantAsked := max(1, tc.refusals+1)
				if tc.refusals == always {
					wantAsked = len(asked) // as often as fit in the wait
				}
				var remade []actortest.Call
				for _, c := range tt.Matrix.Calls("EditText") {
					if c.EventID == "$first" && c.Text == "the whole answer" && c.Ends == "$cut" {
						remade = append(remade, c)
					}
				}
				if wantRemade := btoi(tc.landed == "$cut") + btoi(tc.lastEdit); len(remade) != wantRemade {
					t.Fatalf("%d marked edits of $first with the whole answer, want %d", len(remade), wantRemade)
				}
				if tc.streaming || (tc.lastEdit && !tc.editRefused) {
					if len(asked) != 0 {
						t.Fatalf("asked the homeserver %+v about a turn cut while streaming or ending with an edit", asked)
					}
				} else if len(asked) != wantAsked || len(asked) < 1 || asked[0].EventID != "$cut" {
					t.Fatalf("asked the homeserver %+v, want %d times about $cut", asked, wantAsked)
				}
				if tc.refusals == always && len(asked) < 3 {
					t.Fatalf("asked the homeserver %d times before telling the user, want it to ask again", len(asked))
				}
				if r, _ := tt.Store.GetRoom(t.Context(), "!r"); r.TurnInFlight == nil || r.TurnInFlight.EventID != "$next" {
					t.Fatalf("turn in flight %+v, want the queued message's", r.TurnInFlight)
				}
				if r, _ := tt.Store.GetRoom(t.Context(), "!r"); (r.LastFailed != nil) != tc.wantNotice {
					t.Fatalf("last failed %+v, want one for !retry %t", r.LastFailed, tc.wantNotice)
				}
				turn.Emit(actortest.End(0))
				tt.turnEnded("!r")
			})
		})
	}
}

// The reply's last post goes out only once the record says the turn is
// ending: a holder stopped after that post leaves a record that makes the
// next one ask the homeserver. While the write is held no post carries the
// mark; once it lands the last post does.
func TestTheLastPostWaitsForTheEndingRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "1")
		m := tt.mark()
		asked := tt.say(alice, "!r", "go")
		turn := tt.turn(tt.conn())
		tt.streamFirst(turn, m)
		release := tt.Store.HoldRoomWrites()
		turn.Emit(actortest.Text("and last"), actortest.End(0))
		time.Sleep(time.Minute) // virtual: every edit interval passes
		synctest.Wait()
		for _, c := range tt.Matrix.CallsSince(m, "SendText", "EditText") {
			if c.Ends != "" {
				t.Fatalf("a post ends the reply before the record says the turn is ending: %+v", c)
			}
		}
		release()
		tt.turnEnded("!r")
		synctest.Wait()
		posts := tt.Matrix.CallsSince(m, "SendText", "EditText")
		if last := posts[len(posts)-1]; last.Ends != asked || !strings.Contains(last.Text, "and last") {
			t.Fatalf("the reply's last post %+v, want the whole text marked as ending %q", last, asked)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestTheEndingRecordNamesTheLastEdit: when the reply's last post may go
// out, the record says the turn is ending and, when that post is an edit,
// names it, so the next holder can make it again. A last post that is a
// new message is not named, and posts before the last one go out before
// the record says anything: a holder stopped then has posted no last post.
func TestTheEndingRecordNamesTheLastEdit(t *testing.T) {
	tests := []struct {
		name string
		// run holds the post in question (blocked) and returns what the
		// record must say then.
		run func(tt *testTree, turn *actortest.Turn, m actortest.Mark, hold func(method string)) (ending bool, lastEdit string)
	}{
		{"a short reply's final edit", func(tt *testTree, turn *actortest.Turn, m actortest.Mark, hold func(string)) (bool, string) {
			tt.streamFirst(turn, m)
			hold("EditText")
			turn.Emit(actortest.Text("and last"), actortest.End(0))
			return true, "first and last"
		}},
		{"a streaming edit that waited to be sent when the end came", func(tt *testTree, turn *actortest.Turn, m actortest.Mark, hold func(string)) (bool, string) {
			tt.streamFirst(turn, m)
			hold("EditText")
			turn.Emit(actortest.Text("second"))
			time.Sleep(3 * time.Second) // virtual: the edit's interval passes, not NotifyAfter
			synctest.Wait()
			turn.Emit(actortest.End(0))
			return true, "first second"
		}},
		{"a reply posted whole at its end", func(tt *testTree, turn *actortest.Turn, m actortest.Mark, hold func(string)) (bool, string) {
			hold("SendText")
			turn.Emit(actortest.Text("all at once"), actortest.End(0))
			return true, ""
		}},
		{"a long reply's answer in a new message", func(tt *testTree, turn *actortest.Turn, m actortest.Mark, hold func(string)) (bool, string) {
			tt.streamFirst(turn, m)
			time.Sleep(time.Minute) // virtual: past NotifyAfter
			hold("SendText")
			turn.Emit(actortest.Text("and last"), actortest.End(0))
			return true, ""
		}},
		{"the first of two parts of a long reply's answer", func(tt *testTree, turn *actortest.Turn, m actortest.Mark, hold func(string)) (bool, string) {
			tt.streamFirst(turn, m)
			time.Sleep(time.Minute) // virtual: past NotifyAfter
			hold("SendText")
			turn.Emit(actortest.Text(strings.Repeat("word ", 400)), actortest.End(0))
			return false, ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newTestTree(t, actors.Options{MaxMessageBytes: 1200})
				tt.addRoom(alice, "!r", "1")
				m := tt.mark()
				asked := tt.say(alice, "!r", "go")
				var releases []func()
				hold := func(method string) { releases = append(releases, tt.Matrix.Block(method)) }
				defer func() {
					for _, release := range releases {
						release()
					}
				}()
				wantEnding, wantEdit := tc.run(tt, tt.turn(tt.conn()), m, hold)
				time.Sleep(time.Second) // virtual: any write lands, any edit interval passes
				synctest.Wait()
				r, err := tt.Store.GetRoom(t.Context(), "!r")
				if err != nil {
					t.Fatal(err)
				}
				cut := r.TurnInFlight
				if cut == nil || cut.EventID != asked || cut.Ending != wantEnding {
					t.Fatalf("turn in flight %+v while the post is held, want %q ending %t", cut, asked, wantEnding)
				}
				switch {
				case wantEdit == "" && cut.LastEdit != nil:
					t.Fatalf("the record names %+v as the last edit, want none", cut.LastEdit)
				case wantEdit != "" && (cut.LastEdit == nil || cut.LastEdit.Text != wantEdit || cut.LastEdit.EventID == ""):
					t.Fatalf("the record names %+v as the last edit, want one of the first post with %q", cut.LastEdit, wantEdit)
				}
				if wantEdit != "" {
					first := tt.Matrix.CallsSince(m, "SendText")[0]
					if cut.LastEdit.EventID != first.EventID {
						t.Fatalf("the last edit edits %s, want the reply's message %s", cut.LastEdit.EventID, first.EventID)
					}
				}
				for _, release := range releases {
					release()
				}
				tt.turnEnded("!r")
			})
		})
	}
}

// TestAReplyKeepsTheShapeItEndedWith: a turn that ends before NotifyAfter
// keeps its preview as its reply even when the last edit, in flight at the
// end, returns after NotifyAfter: the ending record named that edit as the
// last post, and a next holder makes it again, so nothing may follow it.
func TestAReplyKeepsTheShapeItEndedWith(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{NotifyAfter: 10 * time.Second})
		tt.addRoom(alice, "!r", "1")
		m := tt.mark()
		asked := tt.say(alice, "!r", "go")
		turn := tt.turn(tt.conn())
		tt.streamFirst(turn, m)
		release := tt.Matrix.Block("EditText")
		defer release()
		turn.Emit(actortest.Text("second"))
		time.Sleep(3 * time.Second) // virtual: the edit's interval passes, not NotifyAfter
		synctest.Wait()
		turn.Emit(actortest.End(0))
		time.Sleep(time.Minute) // virtual: the edit waits past NotifyAfter
		synctest.Wait()
		release()
		tt.turnEnded("!r")
		synctest.Wait()
		posts := tt.Matrix.CallsSince(m, "SendText", "EditText")
		if len(posts) != 2 || posts[1].Method != "EditText" || posts[1].Text != "first second" || posts[1].Ends != asked {
			t.Fatalf("posts %+v, want the first message and its marked edit to the whole text, nothing after", posts)
		}
	})
}

// TestACrashWhileTheLastEditIsOutMakesItAgain: a room actor that crashes
// once its ending record named the last edit hands that edit to its next
// incarnation, which makes it again, marked, and tells the user nothing.
func TestACrashWhileTheLastEditIsOutMakesItAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{RoomMiddleware: []actor.ReceiverMiddleware{actortest.CrashOnCrash}})
		tt.addRoom(alice, "!r", "1")
		m := tt.mark()
		asked := tt.say(alice, "!r", "go")
		turn := tt.turn(tt.conn())
		tt.streamFirst(turn, m)
		release := tt.Matrix.Block("EditText")
		defer release()
		turn.Emit(actortest.Text("and last"), actortest.End(0))
		time.Sleep(time.Second) // virtual: the ending record lands, the edit goes out
		synctest.Wait()

		room := actor.NewPID(tt.System.Address(), actors.RoomActorID(alice, "!r"))
		tt.System.Root.Send(room, &actortest.Crash{Reason: "injected crash"})
		tt.Probe.ExpectRestart(room)
		time.Sleep(time.Second)
		synctest.Wait()
		release()
		time.Sleep(time.Second)
		synctest.Wait()
		var again int
		for _, c := range tt.Matrix.CallsSince(m, "EditText") {
			if c.Text == "first and last" && c.Ends == asked {
				again++
			}
		}
		if again != 2 {
			t.Fatalf("%d marked edits to the whole text, want the first and the one made again: %+v", again, tt.Matrix.CallsSince(m))
		}
		if n := tt.Matrix.CallsSince(m, "SendNotice", "ReplyEnded"); len(n) != 0 {
			t.Fatalf("the user was told, or the homeserver asked: %+v", n)
		}
		if r, _ := tt.Store.GetRoom(t.Context(), "!r"); r.TurnInFlight != nil {
			t.Fatalf("turn in flight %+v, want none", r.TurnInFlight)
		}
	})
}
