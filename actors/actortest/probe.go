package actortest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
)

// DefaultTimeout bounds every Expect call that is not given a deadline. In a
// synctest bubble it is virtual time, so it costs nothing when it passes.
const DefaultTimeout = 5 * time.Second

// Probe is an actor the test controls: messages sent to its PID (and events
// it subscribes to) are queued for the Expect methods.
type Probe struct {
	t      testing.TB
	system *actor.ActorSystem
	pid    *actor.PID
	msgs   chan any
	subs   []*eventstream.Subscription
}

// NewProbe spawns a probe in system; it is stopped by t.Cleanup.
func NewProbe(t testing.TB, system *actor.ActorSystem) *Probe {
	t.Helper()
	p := &Probe{t: t, system: system, msgs: make(chan any, 4096)}
	p.pid = system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch c.Message().(type) {
		case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
			return
		}
		p.msgs <- c.Message()
	}))
	t.Cleanup(func() {
		for _, s := range p.subs {
			system.EventStream.Unsubscribe(s)
		}
		system.Root.Stop(p.pid)
	})
	return p
}

// PID is the probe's address.
func (p *Probe) PID() *actor.PID { return p.pid }

// Send sends msg to pid with the probe as sender.
func (p *Probe) Send(pid *actor.PID, msg any) {
	p.system.Root.RequestWithCustomSender(pid, msg, p.pid)
}

// Request sends msg to pid and waits for the reply.
func (p *Probe) Request(pid *actor.PID, msg any, timeout time.Duration) (any, error) {
	return p.system.Root.RequestFuture(pid, msg, timeout).Result()
}

// Subscribe forwards every EventStream event for which keep returns true
// (all events if keep is nil) to the probe.
func (p *Probe) Subscribe(keep func(any) bool) {
	sub := p.system.EventStream.SubscribeWithPredicate(func(evt any) {
		p.msgs <- evt
	}, func(evt any) bool { return keep == nil || keep(evt) })
	p.subs = append(p.subs, sub)
}

// Receive returns the next message, failing the test after timeout.
func (p *Probe) Receive(timeout time.Duration) any {
	p.t.Helper()
	select {
	case m := <-p.msgs:
		return m
	case <-time.After(timeout):
		p.t.Fatalf("probe: no message within %v", timeout)
		return nil
	}
}

// ExpectMsg asserts the next message equals want (reflect.DeepEqual).
func (p *Probe) ExpectMsg(want any) {
	p.t.Helper()
	if got := p.Receive(DefaultTimeout); !reflect.DeepEqual(got, want) {
		p.t.Fatalf("probe: got %s, want %s", describe(got), describe(want))
	}
}

// ExpectNoMsg asserts that no message arrives within d.
func (p *Probe) ExpectNoMsg(d time.Duration) {
	p.t.Helper()
	select {
	case m := <-p.msgs:
		p.t.Fatalf("probe: unexpected message %s", describe(m))
	case <-time.After(d):
	}
}

// ExpectMsgType waits for the next message and asserts it has type T.
func ExpectMsgType[T any](p *Probe) T {
	p.t.Helper()
	m := p.Receive(DefaultTimeout)
	v, ok := m.(T)
	if !ok {
		var zero T
		p.t.Fatalf("probe: got %s, want a %T", describe(m), zero)
	}
	return v
}

// FishForMsg skips messages until one of type T satisfies pred (nil: any),
// failing after DefaultTimeout.
func FishForMsg[T any](p *Probe, pred func(T) bool) T {
	p.t.Helper()
	deadline := time.After(DefaultTimeout)
	for {
		select {
		case m := <-p.msgs:
			if v, ok := m.(T); ok && (pred == nil || pred(v)) {
				return v
			}
		case <-deadline:
			var zero T
			p.t.Fatalf("probe: no %T matched within %v", zero, DefaultTimeout)
			return zero
		}
	}
}

func describe(m any) string {
	if m == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%T %+v", m, m)
}
