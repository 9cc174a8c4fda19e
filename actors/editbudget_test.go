package actors_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// A 10-minute turn streaming ten chunks a second is edited at most
// max_edits times, keeps showing progress late in the turn, and its final
// text is everything the agent sent (PRODUCT R3.11).
func TestEditBudgetOfALongTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{EditInterval: time.Second, MaxEdits: 60, MaxMessageBytes: 30000})
		tt.addRoom(alice, "!r", "101")
		tt.say(alice, "!r", "write for ten minutes")
		turn := tt.turn(tt.conn())
		var want strings.Builder
		for i := range 6000 {
			chunk := "w "
			if i%100 == 99 {
				chunk = "m\n" // some line breaks, as real text has
			}
			want.WriteString(chunk)
			turn.Emit(actortest.Text(chunk))
			actortest.Advance(t, 100*time.Millisecond)
		}
		late := len(tt.Matrix.Calls("EditText"))
		turn.Emit(actortest.End(0))
		tt.turnEnded("!r")
		synctest.Wait()

		// A long turn: the preview, edited within the budget, gives way to
		// the final answer in a new message (see TestLongTurnEndsWithANotifyingMessage).
		sends, edits := tt.Matrix.Calls("SendText"), tt.Matrix.Calls("EditText")
		if len(sends) != 2 {
			t.Fatalf("%d messages, want the preview and the final answer", len(sends))
		}
		if len(edits) > 60 {
			t.Fatalf("%d edits, want at most 60", len(edits))
		}
		if len(edits) < 30 {
			t.Fatalf("only %d edits in 10 minutes: the budget was not used to show progress", len(edits))
		}
		final := sends[1].Text
		if final != strings.TrimSpace(want.String()) && final != want.String() {
			t.Fatalf("final text has %d bytes, want all %d the agent sent", len(final), want.Len())
		}
		t.Logf("10-minute turn: %d edits of the preview (%d before the end), final %d bytes", len(edits), late, len(final))
	})
}
