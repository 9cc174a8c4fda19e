package actors_test

import (
	"slices"
	"testing"
	"testing/synctest"

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
