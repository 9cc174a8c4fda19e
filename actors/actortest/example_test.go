package actortest_test

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// A room actor's turn: the actor dials the agent at the room's
// platform_chat_id, sends the message, and posts what the agent streams.
// In a test, t is the *testing.T, usually inside synctest.Test.
func Example() {
	t := newExampleT()
	defer t.finish()

	kit := actortest.NewKit(t)
	room := kit.SpawnRoom(actortest.Room("@alice:example.test", "!room", "42", 1))

	mark := kit.Matrix.Mark()
	kit.Probe.Send(room, &actors.StartTurn{EventID: "$1", Sender: "@alice:example.test", Text: "hello"})

	conn := kit.NextConn()
	turn := kit.NextTurn(conn)
	fmt.Printf("the agent got %q at chat %s\n", turn.Msg.Text, conn.ChatID)
	turn.Emit(actortest.Text("hi, alice"), actortest.End(12))

	reply := kit.WaitCall(mark, "SendText", "!room", "hi")
	fmt.Printf("the room shows %q\n", reply.Text)
	// Output:
	// the agent got "hello" at chat 42
	// the room shows "hi, alice"
}

// A supervised crash: the room actor panics inside Receive, its supervisor
// (here the probe) restarts it, and the new incarnation reloads its record,
// so the room keeps its platform_chat_id.
func ExampleProbe_ExpectRestart() {
	t := newExampleT()
	defer t.finish()

	kit := actortest.NewKit(t)
	kit.Options.RoomMiddleware = []actor.ReceiverMiddleware{actortest.CrashOnCrash}
	room := kit.SpawnRoom(actortest.Room("@alice:example.test", "!room", "42", 1))

	kit.Probe.Send(room, &actortest.Crash{Reason: "injected"})
	failure := kit.Probe.ExpectRestart(room)
	fmt.Println("restarted after:", failure.Reason)

	kit.Probe.Send(room, &actors.StartTurn{EventID: "$1", Sender: "@alice:example.test", Text: "still there?"})
	fmt.Println("dialed chat:", kit.NextConn().ChatID)
	// Output:
	// restarted after: injected
	// dialed chat: 42
}

// A dead letter: a message sent to a room actor that has stopped is not
// lost silently; the probe sees it.
func ExampleProbe_ExpectDeadLetter() {
	t := newExampleT()
	defer t.finish()

	kit := actortest.NewKit(t)
	room := kit.SpawnRoom(actortest.Room("@alice:example.test", "!room", "42", 1))
	kit.Probe.Watch(room)
	kit.System.Root.Stop(room)
	kit.Probe.ExpectTerminated(room)

	kit.Probe.Send(room, &actors.StartTurn{EventID: "$late", Text: "anyone?"})
	dead := kit.Probe.ExpectDeadLetter(func(e *actor.DeadLetterEvent) bool {
		_, ok := e.Message.(*actors.StartTurn)
		return ok
	})
	fmt.Println("undelivered:", dead.Message.(*actors.StartTurn).EventID)
	// Output:
	// undelivered: $late
}

// exampleT stands in for the *testing.T a real test passes to the kit.
type exampleT struct {
	cleanups []func()
}

func newExampleT() *exampleT { return &exampleT{} }

func (t *exampleT) Helper()          {}
func (t *exampleT) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

func (t *exampleT) Fatalf(format string, args ...any) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	t.finish()
	runtime.Goexit()
}

func (t *exampleT) finish() {
	for _, f := range slices.Backward(t.cleanups) {
		f()
	}
	t.cleanups = nil
}
