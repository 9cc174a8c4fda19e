package actors_test

import (
	"fmt"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/reconcile"
)

const (
	alice = "@alice:example.test"
	bob   = "@bob:example.test"
	bot   = actortest.BotUserID
)

// testTree is the whole tree running on the kit's fakes.
type testTree struct {
	*actortest.Kit
	t    *testing.T
	root *actor.PID
	seq  int
	// reconciled, when a seed makes it, gets start-up reconciliation's
	// outcome.
	reconciled chan *reconcile.Reconciled
}

func newTestTree(t *testing.T, opts actors.Options) *testTree {
	t.Helper()
	return newSeededTree(t, opts, nil)
}

// newSeededTree runs seed on the kit's store before the tree starts, for
// tests of what the tree does with state left by an earlier run.
func newSeededTree(t *testing.T, opts actors.Options, seed func(tt *testTree)) *testTree {
	t.Helper()
	tt := &testTree{Kit: actortest.NewKit(t), t: t}
	opts.BotUserID = actortest.BotUserID
	tt.Options = opts
	if seed != nil {
		seed(tt)
	}
	if ch := tt.reconciled; ch != nil {
		sub := tt.System.EventStream.Subscribe(func(e any) {
			if r, ok := e.(*reconcile.Reconciled); ok {
				select {
				case ch <- r:
				default:
				}
			}
		})
		t.Cleanup(func() { tt.System.EventStream.Unsubscribe(sub) })
	}
	tt.Probe.Subscribe(func(e any) bool {
		switch e.(type) {
		case *actors.TurnEnded, *actors.MessageRejected, *actors.RoomRestarted, *actors.RecordWriteFailed, *actors.RecordWritesRecovered:
			return true
		}
		return false
	})
	tt.root = tt.SpawnTree()
	return tt
}

// addRoom stores a user with one more chat room, as onboarding would have.
func (tt *testTree) addRoom(userID, roomID, chatID string) { tt.AddRoom(userID, roomID, chatID) }

// say sends a text message from sender in roomID and returns its event id.
func (tt *testTree) say(sender, roomID, body string) string {
	tt.seq++
	id := fmt.Sprintf("$msg%d", tt.seq)
	tt.System.Root.Send(tt.root, &actors.MessageReceived{RoomID: roomID, EventID: id, Sender: sender, MsgType: "m.text", Body: body})
	return id
}

// send delivers a Matrix event to the root.
func (tt *testTree) send(msg actors.RootMessage) { tt.System.Root.Send(tt.root, msg) }

func (tt *testTree) conn() *actortest.Conn { tt.t.Helper(); return tt.NextConn() }

func (tt *testTree) turn(c *actortest.Conn) *actortest.Turn {
	tt.t.Helper()
	turn := tt.NextTurn(c)
	if turn.Refused {
		tt.t.Fatalf("turn %q was started while another was running", turn.Msg.Text)
	}
	return turn
}

// mark is where the Matrix call log ends now; waits look only after it.
func (tt *testTree) mark() actortest.Mark { return tt.Matrix.Mark() }

// waitCall waits for a Matrix call after mark of method in roomID whose text
// contains substr.
func (tt *testTree) waitCall(after actortest.Mark, method, roomID, substr string) actortest.Call {
	tt.t.Helper()
	return tt.WaitCall(after, method, roomID, substr)
}

// noTurn asserts that no turn is waiting on c once every actor is idle; call
// it after synctest.Wait.
func (tt *testTree) noTurn(c *actortest.Conn, why string) {
	tt.t.Helper()
	if turn, ok := c.TryNextTurn(); ok {
		tt.t.Fatalf("%s: a turn started with %q", why, turn.Msg.Text)
	}
}

func (tt *testTree) turnEnded(roomID string) *actors.TurnEnded {
	tt.t.Helper()
	return actortest.FishForMsg(tt.Probe, func(e *actors.TurnEnded) bool { return e.RoomID == roomID })
}
