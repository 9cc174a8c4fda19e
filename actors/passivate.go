package actors

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
		id       string
		received uint64
	}
)

// IdleClock is the part of an actor that tells when it has been idle long
// enough to stop.
type IdleClock struct {
	after      time.Duration
	lastActive time.Time
	timer      *time.Timer
	// received counts the messages the parent sent (see ChildIdle).
	received uint64
}

// touch records activity; call it for every message but the tick.
func (k *IdleClock) touch() { k.lastActive = time.Now() }

// arm starts the idle check (no-op when passivation is off).
func (k *IdleClock) arm(c actor.Context) {
	if k.after <= 0 || k.timer != nil {
		return
	}
	k.lastActive = time.Now()
	k.timer = SendLater(c, k.after, &PassivateTick{})
}

// tick runs the idle check: when the actor is idle and was for long enough,
// it asks its parent to stop it; the check is armed again either way (the
// Parent may refuse, a message being on its way).
func (k *IdleClock) tick(c actor.Context, id string, idle bool) {
	k.timer = nil
	if k.after <= 0 {
		return
	}
	wait := k.after - time.Since(k.lastActive)
	if wait <= 0 {
		if idle {
			c.Send(c.Parent(), &ChildIdle{id: id, received: k.received})
		}
		// Busy past the idle time (a long turn): look again later.
		wait = k.after
	}
	k.timer = SendLater(c, wait, &PassivateTick{})
}

func (k *IdleClock) stop() {
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
	pids   map[string]*actor.PID
	sent   map[string]uint64
	parked map[string][]any
}

func NewChildren() Children {
	return Children{pids: map[string]*actor.PID{}, sent: map[string]uint64{}, parked: map[string][]any{}}
}

// send delivers msg to child id through spawn (which returns the running
// child or spawns it), or parks it while that child stops.
func (ch *Children) send(c Parent, id string, msg any, spawn func() *actor.PID) {
	if parked, stopping := ch.parked[id]; stopping {
		ch.parked[id] = append(parked, msg)
		return
	}
	pid := spawn()
	ch.sent[id]++
	c.Send(pid, msg)
}

// idle stops child m.id if everything sent to it has arrived; it reports
// whether it did.
func (ch *Children) idle(c Parent, m *ChildIdle) bool {
	pid, ok := ch.pids[m.id]
	if !ok || ch.sent[m.id] != m.received {
		return false
	}
	if _, stopping := ch.parked[m.id]; stopping {
		return false
	}
	ch.parked[m.id] = []any{}
	c.Stop(pid)
	return true
}

// terminated forgets a stopped child and returns its id and the messages
// parked for it (to send to its next incarnation).
func (ch *Children) terminated(who *actor.PID) (id string, parked []any) {
	for k, pid := range ch.pids {
		if pid.Equal(who) {
			id = k
			break
		}
	}
	if id == "" {
		return "", nil
	}
	delete(ch.pids, id)
	delete(ch.sent, id)
	parked = ch.parked[id]
	delete(ch.parked, id)
	return id, parked
}
