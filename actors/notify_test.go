package actors_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// Edits do not notify: a turn longer than NotifyAfter ends with its answer
// in a new message, and its preview becomes a one-line pointer, so the text
// is in the timeline once; a short turn stays one message with its edits
// (PRODUCT R3.10).
func TestLongTurnEndsWithANotifyingMessage(t *testing.T) {
	tests := []struct {
		name      string
		runFor    time.Duration
		wantSends int
	}{
		{"a 1 s turn is one message with edits", time.Second, 1},
		{"a 30 s turn ends with a new message", 30 * time.Second, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newTestTree(t, actors.Options{NotifyAfter: 10 * time.Second, EditInterval: 500 * time.Millisecond})
				tt.addRoom(alice, "!r", "101")
				tt.say(alice, "!r", "go")
				turn := tt.turn(tt.conn())
				turn.Emit(actortest.Text("The answer "))
				actortest.Advance(t, tc.runFor)
				turn.Emit(actortest.Text("is 42."), actortest.End(0))
				tt.turnEnded("!r")
				synctest.Wait()
				sends := tt.Matrix.Calls("SendText")
				if len(sends) != tc.wantSends {
					t.Fatalf("%d messages %+v, want %d", len(sends), sends, tc.wantSends)
				}
				final := sends[len(sends)-1]
				edits := tt.Matrix.CallsSince(final.After(), "EditText")
				if tc.wantSends == 1 {
					all := tt.Matrix.Calls("EditText")
					if len(all) == 0 || all[len(all)-1].Text != "The answer is 42." {
						t.Fatalf("edits %+v, want the last one to hold the answer", all)
					}
					return
				}
				if final.Text != "The answer is 42." || len(edits) != 0 {
					t.Fatalf("final message %q with %d later edits, want the whole answer in one new message", final.Text, len(edits))
				}
				previewEdits := tt.Matrix.Calls("EditText")
				last := previewEdits[len(previewEdits)-1]
				if last.EventID != sends[0].EventID || !strings.Contains(last.Text, "answer is below") {
					t.Fatalf("the preview ends as %+v, want a pointer to the answer below", last)
				}
				if last.Seq > final.Seq {
					t.Fatal("the final message was sent before the preview gave way")
				}
			})
		})
	}
}
