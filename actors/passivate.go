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
	// passivateTick is a room or user actor's own idle check.
	passivateTick struct{}
	// childIdle asks the parent to stop an idle child that has received
	// received messages from it.
	childIdle struct {
		id       string
		received uint64
	}
)

// idleClock is the part of an actor that tells when it has been idle long
// enough to stop.
type idleClock struct {
	after      time.Duration
	lastActive time.Time
	timer      *time.Timer
	// received counts the messages the parent sent (see childIdle).
	received uint64
}

// touch records activity; call it for every message but the tick.
func (k *idleClock) touch() { k.lastActive = time.Now() }

// arm starts the idle check (no-op when passivation is off).
func (k *idleClock) arm(c actor.Context) {
	if k.after <= 0 || k.timer != nil {
		return
	}
	k.lastActive = time.Now()
	k.timer = sendLater(c, k.after, &passivateTick{})
}

// tick runs the idle check: when the actor is idle and was for long enough,
// it asks its parent to stop it; the check is armed again either way (the
// parent may refuse, a message being on its way).
func (k *idleClock) tick(c actor.Context, id string, idle bool) {
	k.timer = nil
	if k.after <= 0 {
		return
	}
	wait := k.after - time.Since(k.lastActive)
	if wait <= 0 {
		if idle {
			c.Send(c.Parent(), &childIdle{id: id, received: k.received})
		}
		// Busy past the idle time (a long turn): look again later.
		wait = k.after
	}
	k.timer = sendLater(c, wait, &passivateTick{})
}

func (k *idleClock) stop() {
	if k.timer != nil {
		k.timer.Stop()
		k.timer = nil
	}
}

// parent is what children needs of an actor.Context.
type parent interface {
	Send(pid *actor.PID, message any)
	Stop(pid *actor.PID)
}

// children is a parent's side of passivation: its children by id, what it
// sent each, and the messages of children that are stopping.
type children struct {
	pids   map[string]*actor.PID
	sent   map[string]uint64
	parked map[string][]any
}

func newChildren() children {
	return children{pids: map[string]*actor.PID{}, sent: map[string]uint64{}, parked: map[string][]any{}}
}

// send delivers msg to child id through spawn (which returns the running
// child or spawns it), or parks it while that child stops.
func (ch *children) send(c parent, id string, msg any, spawn func() *actor.PID) {
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
func (ch *children) idle(c parent, m *childIdle) bool {
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
func (ch *children) terminated(who *actor.PID) (id string, parked []any) {
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
