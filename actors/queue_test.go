package actors_test

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/catalog"
)

// queuedTexts is the queue !r's record holds.
func (tt *testTree) queuedTexts(roomID string) []string {
	tt.t.Helper()
	r, err := tt.Store.GetRoom(tt.t.Context(), roomID)
	if err != nil {
		tt.t.Fatal(err)
	}
	var out []string
	for _, q := range r.Queue {
		out = append(out, q.Text)
	}
	return out
}

// restart stops the tree and starts a new one on the same store, as a
// process restart with its disk would.
func (tt *testTree) restart() {
	tt.t.Helper()
	if err := tt.System.Root.StopFuture(tt.root).Wait(); err != nil {
		tt.t.Fatal(err)
	}
	synctest.Wait()
	tt.Drain = nil
	tt.root = tt.SpawnTree()
}

// Messages waiting behind a running turn are part of the room's record: a
// graceful stop lets the running turn finish, starts no queued one, and the
// next start answers them in order (PRODUCT R3.2, R7.2, R8.4).
func TestQueuedMessagesRunAfterAGracefulStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newSeededTree(t, actors.Options{}, func(tt *testTree) { tt.Drain = &actors.Drain{} })
		drain := tt.Drain
		tt.addRoom(alice, "!r", "101")
		tt.say(alice, "!r", "one")
		conn := tt.conn()
		first := tt.turn(conn)
		tt.say(alice, "!r", "two")
		tt.say(alice, "!r", "three")
		synctest.Wait()
		if got := tt.queuedTexts("!r"); !slices.Equal(got, []string{"two", "three"}) {
			t.Fatalf("the record queues %q, want [two three]", got)
		}

		drain.Start()
		first.Emit(actortest.Text("1"), actortest.End(0))
		tt.turnEnded("!r")
		synctest.Wait()
		tt.noTurn(conn, "draining")
		if got := tt.queuedTexts("!r"); !slices.Equal(got, []string{"two", "three"}) {
			t.Fatalf("after the drain the record queues %q, want [two three]", got)
		}

		mark := tt.mark()
		tt.restart()
		conn = tt.conn()
		for _, want := range []string{"two", "three"} {
			turn := tt.turn(conn)
			if turn.Msg.Text != want {
				t.Fatalf("after the restart the turn is %q, want %q", turn.Msg.Text, want)
			}
			turn.Emit(actortest.Text("ok"), actortest.End(0))
			tt.turnEnded("!r")
		}
		synctest.Wait()
		if got := tt.queuedTexts("!r"); len(got) != 0 {
			t.Fatalf("the record still queues %q", got)
		}
		for _, c := range tt.Matrix.CallsSince(mark, "SendNotice") {
			t.Errorf("unexpected notice after a clean stop: %q", c.Text)
		}
	})
}

// A stop that cuts a running turn (the grace is over) tells its user at
// once, once: the next start does not report it again, keeps the message
// for !retry and answers the queued ones.
func TestAStopThatCutsATurnSaysSoOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		tt.say(alice, "!r", "long question")
		conn := tt.conn()
		turn := tt.turn(conn)
		turn.Emit(actortest.Text("partial"))
		tt.say(alice, "!r", "next")
		synctest.Wait()

		mark := tt.mark()
		tt.restart()
		cut := tt.waitCall(mark, "SendNotice", "!r", tt.Catalog.T(catalog.StopCut))
		if !strings.Contains(cut.Text, "!retry") {
			t.Errorf("the notice %q does not say how to retry", cut.Text)
		}
		next := tt.turn(tt.conn())
		if next.Msg.Text != "next" {
			t.Fatalf("after the restart the turn is %q, want the queued message", next.Msg.Text)
		}
		synctest.Wait()
		r, err := tt.Store.GetRoom(t.Context(), "!r")
		if err != nil {
			t.Fatal(err)
		}
		if r.LastFailed == nil || r.LastFailed.Text != "long question" {
			t.Fatalf("LastFailed = %+v, want the cut message kept for !retry", r.LastFailed)
		}
		next.Emit(actortest.End(0))
		tt.turnEnded("!r")
		synctest.Wait()
		for _, c := range tt.Matrix.CallsSince(cut.After(), "SendNotice") {
			if strings.Contains(c.Text, tt.Catalog.T(catalog.Restarted)) || strings.Contains(c.Text, tt.Catalog.T(catalog.StopCut)) {
				t.Errorf("the cut turn was reported again: %q", c.Text)
			}
		}
	})
}

// When the bot could not read every message sent while it was away, the
// owner of the room hears it there; nobody else is told anything.
func TestSkippedMessagesAreReportedToTheOwner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		tt.addRoom(bob, "!b", "102")
		mark := tt.mark()
		tt.send(&actors.MessagesSkipped{RoomID: "!b", Owner: alice}) // not alice's room
		tt.send(&actors.MessagesSkipped{RoomID: "!r", Owner: alice})
		tt.waitCall(mark, "SendNotice", "!r", tt.Catalog.T(catalog.MessagesSkipped))
		synctest.Wait()
		if n := len(tt.Matrix.CallsSince(mark, "SendNotice")); n != 1 {
			t.Fatalf("%d notices, want the one in alice's room: %+v", n, tt.Matrix.CallsSince(mark))
		}
	})
}
