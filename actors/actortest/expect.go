package actortest

import (
	"reflect"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// ReceiveEnvelope returns the next message and its sender, failing the test
// after timeout.
func (p *Probe) ReceiveEnvelope(timeout time.Duration) Envelope {
	p.t.Helper()
	timeout = p.bound(timeout)
	v, err := p.msgs.await(timeout, nil)
	if err != nil {
		p.fatalf("no message within %v", timeout)
	}
	return v.(Envelope)
}

// Receive returns the next message, failing the test after timeout.
func (p *Probe) Receive(timeout time.Duration) any {
	p.t.Helper()
	return p.ReceiveEnvelope(timeout).Message
}

// ReceiveN returns the next n messages in order, failing the test if they
// have not all come within DefaultTimeout (or the Within block).
func (p *Probe) ReceiveN(n int) []any {
	p.t.Helper()
	timeout := p.bound(DefaultTimeout)
	deadline := time.Now().Add(timeout)
	out := make([]any, 0, n)
	for len(out) < n {
		v, err := p.msgs.await(max(0, time.Until(deadline)), nil)
		if err != nil {
			p.fatalf("got %d of %d messages within %v: %s", len(out), n, timeout, describeAll(out))
		}
		out = append(out, v.(Envelope).Message)
	}
	return out
}

// ExpectMsg asserts the next message equals want (reflect.DeepEqual).
func (p *Probe) ExpectMsg(want any) {
	p.t.Helper()
	if got := p.Receive(DefaultTimeout); !reflect.DeepEqual(got, want) {
		p.fatalf("got %s, want %s", describe(got), describe(want))
	}
}

// ExpectNoMsg asserts that no message is waiting after d has passed. It
// sleeps d and then looks once, without racing a timer against the queue. In
// a synctest bubble the sleep ends only when every actor is idle at the
// virtual instant d from now, so "nothing" means nothing the actors would do
// by then; call synctest.Wait first to check "nothing so far" with d = 0.
func (p *Probe) ExpectNoMsg(d time.Duration) {
	p.t.Helper()
	time.Sleep(d)
	if v, ok, _ := p.msgs.take(nil); ok {
		p.fatalf("unexpected message %s", describe(v.(Envelope).Message))
	}
}

// ExpectMsgType waits for the next message and asserts it has type T.
func ExpectMsgType[T any](p *Probe) T {
	p.t.Helper()
	m := p.Receive(DefaultTimeout)
	v, ok := m.(T)
	if !ok {
		var zero T
		p.fatalf("got %s, want a %T", describe(m), zero)
	}
	return v
}

// FishForMsg skips (and drops) messages until one of type T satisfies pred
// (nil: any), failing after DefaultTimeout.
func FishForMsg[T any](p *Probe, pred func(T) bool) T {
	p.t.Helper()
	timeout := p.bound(DefaultTimeout)
	v, err := p.msgs.await(timeout, func(m any) bool {
		t, ok := m.(Envelope).Message.(T)
		return ok && (pred == nil || pred(t))
	})
	if err != nil {
		var zero T
		p.fatalf("no %T matched within %v", zero, timeout)
	}
	return v.(Envelope).Message.(T)
}

// ExpectTerminated waits until the watched pid has stopped (see Watch).
// Terminated messages of other actors are dropped.
func (p *Probe) ExpectTerminated(pid *actor.PID) *actor.Terminated {
	p.t.Helper()
	timeout := p.bound(DefaultTimeout)
	v, err := p.terms.await(timeout, func(m any) bool { return m.(*actor.Terminated).Who.Equal(pid) })
	if err != nil {
		p.fatalf("%s did not terminate within %v (was it watched?)", pid, timeout)
	}
	return v.(*actor.Terminated)
}

// ExpectRestart waits until a supervisor restarted pid after a failure and
// returns the supervision event (its Reason is what the actor panicked
// with). Events about other actors are dropped. What survived the restart is
// then a matter of asking the restarted actor or its ports.
func (p *Probe) ExpectRestart(pid *actor.PID) *actor.SupervisorEvent {
	p.t.Helper()
	return p.ExpectSupervision(pid, actor.RestartDirective)
}

// ExpectSupervision waits until a supervisor applied directive to pid.
func (p *Probe) ExpectSupervision(pid *actor.PID, directive actor.Directive) *actor.SupervisorEvent {
	p.t.Helper()
	timeout := p.bound(DefaultTimeout)
	v, err := p.failures.await(timeout, func(m any) bool {
		e := m.(*actor.SupervisorEvent)
		return e.Child.Equal(pid) && e.Directive == directive
	})
	if err != nil {
		p.fatalf("no %v of %s within %v", directive, pid, timeout)
	}
	return v.(*actor.SupervisorEvent)
}

// ExpectDeadLetter waits for a message that could not be delivered and
// satisfies pred (nil: any); other dead letters are dropped.
func (p *Probe) ExpectDeadLetter(pred func(*actor.DeadLetterEvent) bool) *actor.DeadLetterEvent {
	p.t.Helper()
	timeout := p.bound(DefaultTimeout)
	v, err := p.dead.await(timeout, func(m any) bool { return pred == nil || pred(m.(*actor.DeadLetterEvent)) })
	if err != nil {
		p.fatalf("no matching dead letter within %v", timeout)
	}
	return v.(*actor.DeadLetterEvent)
}

// ExpectNoDeadLetter asserts that no dead letter is waiting after d (see
// ExpectNoMsg for how "nothing" is checked).
func (p *Probe) ExpectNoDeadLetter(d time.Duration) {
	p.t.Helper()
	time.Sleep(d)
	if v, ok, _ := p.dead.take(nil); ok {
		e := v.(*actor.DeadLetterEvent)
		p.fatalf("dead letter to %s: %s", e.PID, describe(e.Message))
	}
}

func describeAll(ms []any) string {
	s := "["
	for i, m := range ms {
		if i > 0 {
			s += ", "
		}
		s += describe(m)
	}
	return s + "]"
}
