package kit

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Passivation (issue: resident actors follow active rooms, not known rooms):
// a room actor idle for Options.PassivateAfter asks its user actor to stop
// it, and a user actor whose room actors are all gone asks the root likewise.
// The record is in the Store, so the next message brings the actor back as
// it was.
//
// The parent decides, because only it knows whether a message for the child
// is on its way: it counts what it sent, the child reports what it
// received, and the parent stops the child only when the two agree. While
// the child stops, the parent parks the child's messages and hands them to
// the next incarnation, in order.

type (
	// PassivateTick is a room or user actor's own idle check.
	PassivateTick struct{}
	// ChildIdle asks the parent to stop an idle child that has received
	// received messages from it.
	ChildIdle struct {
		ID       string
		Received uint64
	}
)

// IdleClock is the part of an actor that tells when it has been idle long
// enough to stop.
type IdleClock struct {
	After      time.Duration
	lastActive time.Time
	timer      *time.Timer
	// Received counts the messages the parent sent (see ChildIdle).
	Received uint64
}

// Touch records activity; call it for every message but the tick.
func (k *IdleClock) Touch() { k.lastActive = time.Now() }

// Arm starts the idle check (no-op when passivation is off).
func (k *IdleClock) Arm(c actor.Context) {
	if k.After <= 0 || k.timer != nil {
		return
	}
	k.lastActive = time.Now()
	k.timer = SendLater(c, k.After, &PassivateTick{})
}

// Tick runs the idle check: when the actor is idle and was for long enough,
// it asks its parent to stop it; the check is armed again either way (the
// Parent may refuse, a message being on its way).
func (k *IdleClock) Tick(c actor.Context, id string, idle bool) {
	k.timer = nil
	if k.After <= 0 {
		return
	}
	wait := k.After - time.Since(k.lastActive)
	if wait <= 0 {
		if idle {
			c.Send(c.Parent(), &ChildIdle{ID: id, Received: k.Received})
		}
		// Busy past the idle time (a long turn): look again later.
		wait = k.After
	}
	k.timer = SendLater(c, wait, &PassivateTick{})
}

// Stop cancels the idle check; call it when the actor stops.
func (k *IdleClock) Stop() {
	if k.timer != nil {
		k.timer.Stop()
		k.timer = nil
	}
}

// Parent is what Children needs of an actor.Context.
type Parent interface {
	Send(pid *actor.PID, message any)
	Stop(pid *actor.PID)
}

// Children is a parent's side of passivation: its children by id, what it
// sent each, and the messages of children that are stopping.
type Children struct {
	PIDs   map[string]*actor.PID
	sent   map[string]uint64
	Parked map[string][]any
}

// NewChildren returns an empty Children.
func NewChildren() Children {
	return Children{PIDs: map[string]*actor.PID{}, sent: map[string]uint64{}, Parked: map[string][]any{}}
}

// Send delivers msg to child id through spawn (which returns the running
// child or spawns it), or parks it while that child stops.
func (ch *Children) Send(c Parent, id string, msg any, spawn func() *actor.PID) {
	if parked, stopping := ch.Parked[id]; stopping {
		ch.Parked[id] = append(parked, msg)
		return
	}
	pid := spawn()
	ch.sent[id]++
	c.Send(pid, msg)
}

// Idle stops child m.ID if everything sent to it has arrived; it reports
// whether it did.
func (ch *Children) Idle(c Parent, m *ChildIdle) bool {
	pid, ok := ch.PIDs[m.ID]
	if !ok || ch.sent[m.ID] != m.Received {
		return false
	}
	if _, stopping := ch.Parked[m.ID]; stopping {
		return false
	}
	ch.Parked[m.ID] = []any{}
	c.Stop(pid)
	return true
}

// Terminated forgets a stopped child and returns its id and the messages
// parked for it (to send to its next incarnation).
func (ch *Children) Terminated(who *actor.PID) (id string, parked []any) {
	for k, pid := range ch.PIDs {
		if pid.Equal(who) {
			id = k
			break
		}
	}
	if id == "" {
		return "", nil
	}
	delete(ch.PIDs, id)
	delete(ch.sent, id)
	parked = ch.Parked[id]
	delete(ch.Parked, id)
	return id, parked
}
