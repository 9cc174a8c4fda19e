package actortest

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
)

// DefaultTimeout bounds every wait that is not given a deadline. In a
// synctest bubble it is virtual time, so it costs nothing when it passes.
const DefaultTimeout = 5 * time.Second

// Probe is an actor the test controls. Messages sent to its PID, replies to
// what it sent, events it subscribed to and messages from children it spawned
// are queued for the Receive and Expect methods; Terminated messages of
// watched actors, supervision events and dead letters each have their own
// queue, so they never get in the way of ExpectMsg.
//
// A Probe is driven from the test's goroutine; its Expect methods call
// t.Fatal and so must not run on other goroutines.
type Probe struct {
	t      TB
	system *actor.ActorSystem
	pid    *actor.PID

	msgs, terms, failures, dead *queue
	subs                        []*eventstream.Subscription

	// deadline, when set by Within, caps every wait.
	deadline time.Time
}

// TB is what the kit needs of a test. *testing.T and *testing.B satisfy it;
// Fatalf must not return (testing's calls runtime.Goexit).
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// Envelope is a message the probe received and who sent it (nil when it
// was sent without a sender).
type Envelope struct {
	Message any
	Sender  *actor.PID
}

// ProbeOption changes how NewProbe builds a probe.
type ProbeOption func(*probeConfig)

type probeConfig struct {
	supervisor actor.SupervisorStrategy
}

// SupervisedBy makes strategy the probe's supervisor strategy for the
// children it spawns (SpawnChild). The default restarts a crashed child alone,
// as the user actor does for its rooms.
func SupervisedBy(strategy actor.SupervisorStrategy) ProbeOption {
	return func(c *probeConfig) { c.supervisor = strategy }
}

// Control messages the probe's own actor handles.
type (
	spawnChild struct {
		props *actor.Props
		name  string
	}
	spawned struct {
		pid *actor.PID
		err error
	}
	watchPID struct{ pid *actor.PID }
)

// NewProbe spawns a probe in system. It records supervision events and dead
// letters from the start, and is stopped (with the children it spawned) by
// t.Cleanup.
func NewProbe(t TB, system *actor.ActorSystem, opts ...ProbeOption) *Probe {
	t.Helper()
	cfg := probeConfig{supervisor: actor.NewOneForOneStrategy(10, time.Minute, actor.DefaultDecider)}
	for _, o := range opts {
		o(&cfg)
	}
	p := &Probe{t: t, system: system, msgs: newQueue(), terms: newQueue(), failures: newQueue(), dead: newQueue()}
	p.subs = append(p.subs,
		system.EventStream.Subscribe(func(evt any) {
			switch e := evt.(type) {
			case *actor.SupervisorEvent:
				p.failures.push(e)
			case *actor.DeadLetterEvent:
				p.dead.push(e)
			}
		}))
	props := actor.PropsFromFunc(p.receive, actor.WithSupervisor(cfg.supervisor))
	p.pid = system.Root.Spawn(props)
	t.Cleanup(func() {
		for _, s := range p.subs {
			system.EventStream.Unsubscribe(s)
		}
		_ = system.Root.StopFuture(p.pid).Wait()
	})
	return p
}

func (p *Probe) receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
	case *actor.Terminated:
		p.terms.push(m)
	case *spawnChild:
		var pid *actor.PID
		var err error
		if m.name == "" {
			pid = c.Spawn(m.props)
		} else {
			pid, err = c.SpawnNamed(m.props, m.name)
		}
		c.Respond(&spawned{pid: pid, err: err})
	case *watchPID:
		c.Watch(m.pid)
		c.Respond(m)
	default:
		p.msgs.push(Envelope{Message: m, Sender: c.Sender()})
	}
}

// PID is the probe's address.
func (p *Probe) PID() *actor.PID { return p.pid }

// Send sends msg to pid with the probe as sender, so replies (c.Respond)
// come back to the probe.
func (p *Probe) Send(pid *actor.PID, msg any) {
	p.system.Root.RequestWithCustomSender(pid, msg, p.pid)
}

// Request sends msg to pid and waits for the reply (a future, not the probe's
// queue).
func (p *Probe) Request(pid *actor.PID, msg any, timeout time.Duration) (any, error) {
	return p.system.Root.RequestFuture(pid, msg, p.bound(timeout)).Result()
}

// Reply answers a message the probe received, to its sender.
func (p *Probe) Reply(to Envelope, msg any) {
	p.t.Helper()
	if to.Sender == nil {
		p.t.Fatalf("probe: cannot reply to %s: it came without a sender", describe(to.Message))
	}
	p.system.Root.Send(to.Sender, msg)
}

// SpawnChild spawns props as a child of the probe (named name, or a generated
// name when empty): the child's messages to its parent come to the probe, and
// its failures are handled by the probe's supervisor strategy.
func (p *Probe) SpawnChild(props *actor.Props, name string) *actor.PID {
	p.t.Helper()
	res, err := p.system.Root.RequestFuture(p.pid, &spawnChild{props: props, name: name}, p.bound(DefaultTimeout)).Result()
	if err != nil {
		p.t.Fatalf("probe: spawning %q: %v", name, err)
	}
	s := res.(*spawned)
	if s.err != nil {
		p.t.Fatalf("probe: spawning %q: %v", name, s.err)
	}
	return s.pid
}

// Watch makes the probe watch pid; ExpectTerminated then sees it stop.
func (p *Probe) Watch(pid *actor.PID) {
	p.t.Helper()
	if _, err := p.system.Root.RequestFuture(p.pid, &watchPID{pid: pid}, p.bound(DefaultTimeout)).Result(); err != nil {
		p.t.Fatalf("probe: watching %s: %v", pid, err)
	}
}

// Subscribe forwards every EventStream event for which keep returns true
// (all events if keep is nil) to the probe's message queue.
//
// It filters in the handler rather than with the EventStream's
// SubscribeWithPredicate, which sets the predicate after releasing the
// stream's lock: a subscription made while actors publish (a test
// subscribing after the tree started) races with Publish reading it.
func (p *Probe) Subscribe(keep func(any) bool) {
	sub := p.system.EventStream.Subscribe(func(evt any) {
		if keep == nil || keep(evt) {
			p.msgs.push(Envelope{Message: evt})
		}
	})
	p.subs = append(p.subs, sub)
}

// Within runs f, in which every wait ends at the latest d from now, and fails
// the test if f took longer than d. In a synctest bubble d is virtual time:
// "the reply comes within 1 s" is then exact, not a guess about the machine.
func (p *Probe) Within(d time.Duration, f func()) {
	p.t.Helper()
	start := time.Now()
	prev := p.deadline
	p.deadline = start.Add(d)
	defer func() { p.deadline = prev }()
	f()
	if took := time.Since(start); took > d {
		p.t.Fatalf("probe: took %v, want at most %v", took, d)
	}
}

// bound shortens timeout to what is left of a Within block.
func (p *Probe) bound(timeout time.Duration) time.Duration {
	if p.deadline.IsZero() {
		return timeout
	}
	return max(0, min(timeout, time.Until(p.deadline)))
}

func describe(m any) string {
	if m == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%T %+v", m, m)
}

func (p *Probe) fatalf(format string, args ...any) {
	p.t.Helper()
	p.t.Fatalf("probe: "+format, args...)
}
