package kit

import (
	"slices"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

// While a child stops, what its parent sends it is parked, in order, and
// handed back when it is gone; a child that has not received everything
// sent to it is not stopped.
func TestChildrenParkWhileAChildStops(t *testing.T) {
	system := actor.NewActorSystem()
	ch := NewChildren()
	pid := actor.NewPID(system.Address(), "child")
	ch.PIDs["r"] = pid
	ch.sent["r"] = 2

	if ch.Idle(system.Root, &ChildIdle{ID: "r", Received: 1}) {
		t.Fatal("stopped a child with a message on its way")
	}
	if !ch.Idle(system.Root, &ChildIdle{ID: "r", Received: 2}) {
		t.Fatal("did not stop a child that received everything")
	}
	for _, m := range []string{"a", "b"} {
		ch.Send(system.Root, "r", m, func() *actor.PID {
			t.Fatal("spawned a child while it stops")
			return nil
		})
	}
	id, parked := ch.Terminated(pid)
	if id != "r" || !slices.Equal(parked, []any{"a", "b"}) {
		t.Fatalf("terminated gave %q %v, want r [a b]", id, parked)
	}
	if _, ok := ch.PIDs["r"]; ok {
		t.Fatal("the stopped child is still listed")
	}
}
