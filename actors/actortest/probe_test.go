package actortest_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// failingTB records the first Fatalf and ends the goroutine, as testing.T
// does, so the kit's own failure paths can be tested.
type failingTB struct {
	mu       sync.Mutex
	msg      string
	failed   bool
	cleanups []func()
}

func (f *failingTB) Helper()           {}
func (f *failingTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *failingTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg, f.failed = fmt.Sprintf(format, args...), true
	f.mu.Unlock()
	runtime.Goexit()
}

// expectFailure runs check against a probe that reports to a failingTB and
// asserts that check failed with a message containing want.
func expectFailure(t *testing.T, probe *actortest.Probe, tb *failingTB, want string, check func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		check()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("the check neither passed nor failed within a minute (virtual)")
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if !tb.failed {
		t.Fatalf("the check passed; want a failure containing %q", want)
	}
	if !strings.Contains(tb.msg, want) {
		t.Fatalf("failure %q, want it to contain %q", tb.msg, want)
	}
}

// newFailingProbe returns a probe whose failures go to the returned TB.
func newFailingProbe(t *testing.T) (*actortest.Kit, *actortest.Probe, *failingTB) {
	kit := actortest.NewKit(t)
	tb := &failingTB{}
	probe := actortest.NewProbe(tb, kit.System)
	t.Cleanup(func() {
		for i := len(tb.cleanups) - 1; i >= 0; i-- {
			tb.cleanups[i]()
		}
	})
	return kit, probe, tb
}

type ping struct{ n int }

// echo answers every *ping with the same *ping.
var echo = actor.PropsFromFunc(func(c actor.Context) {
	if m, ok := c.Message().(*ping); ok {
		c.Respond(m)
	}
})

func TestProbeReceivesRepliesInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kit := actortest.NewKit(t)
		pid := kit.System.Root.Spawn(echo)
		for i := range 3 {
			kit.Probe.Send(pid, &ping{i})
		}
		kit.Probe.ExpectMsg(&ping{0})
		got := kit.Probe.ReceiveN(2)
		if len(got) != 2 || got[0].(*ping).n != 1 || got[1].(*ping).n != 2 {
			t.Fatalf("ReceiveN(2) = %v, want pings 1 and 2", got)
		}
		synctest.Wait()
		kit.Probe.ExpectNoMsg(0)
		kit.Probe.ExpectNoDeadLetter(0)
	})
}

func TestProbeReplyReachesTheRequester(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kit := actortest.NewKit(t)
		// An actor that asks the probe and reports the answer to the probe.
		asker := kit.System.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			switch m := c.Message().(type) {
			case string:
				c.Request(kit.Probe.PID(), &ping{1})
			case *ping:
				if m.n == 2 {
					c.Send(kit.Probe.PID(), "answered")
				}
			}
		}))
		kit.System.Root.Send(asker, "go")
		env := kit.Probe.ReceiveEnvelope(actortest.DefaultTimeout)
		if !env.Sender.Equal(asker) {
			t.Fatalf("request came from %v, want %v", env.Sender, asker)
		}
		kit.Probe.Reply(env, &ping{2})
		kit.Probe.ExpectMsg("answered")
	})
}

func TestProbeFailures(t *testing.T) {
	tests := []struct {
		name  string
		want  string
		setup func(kit *actortest.Kit, p *actortest.Probe) func()
	}{
		{"ExpectMsg with another message", "got *actortest_test.ping", func(kit *actortest.Kit, p *actortest.Probe) func() {
			p.Send(kit.System.Root.Spawn(echo), &ping{1})
			return func() { p.ExpectMsg(&ping{2}) }
		}},
		{"ExpectMsg with nothing", "no message within", func(_ *actortest.Kit, p *actortest.Probe) func() {
			return func() { p.ExpectMsg(&ping{2}) }
		}},
		{"ExpectNoMsg with a message waiting", "unexpected message", func(kit *actortest.Kit, p *actortest.Probe) func() {
			p.Send(kit.System.Root.Spawn(echo), &ping{1})
			return func() { p.ExpectNoMsg(time.Second) }
		}},
		{"ExpectMsgType of another type", "want a string", func(kit *actortest.Kit, p *actortest.Probe) func() {
			p.Send(kit.System.Root.Spawn(echo), &ping{1})
			return func() { actortest.ExpectMsgType[string](p) }
		}},
		{"FishForMsg without a match", "no *actortest_test.ping matched", func(kit *actortest.Kit, p *actortest.Probe) func() {
			p.Send(kit.System.Root.Spawn(echo), &ping{1})
			return func() { actortest.FishForMsg(p, func(m *ping) bool { return m.n == 7 }) }
		}},
		{"ReceiveN short", "got 1 of 2 messages", func(kit *actortest.Kit, p *actortest.Probe) func() {
			p.Send(kit.System.Root.Spawn(echo), &ping{1})
			return func() { p.ReceiveN(2) }
		}},
		{"ExpectTerminated of a live actor", "did not terminate", func(kit *actortest.Kit, p *actortest.Probe) func() {
			pid := kit.System.Root.Spawn(echo)
			p.Watch(pid)
			return func() { p.ExpectTerminated(pid) }
		}},
		{"ExpectRestart without a crash", "no RestartDirective", func(kit *actortest.Kit, p *actortest.Probe) func() {
			pid := p.SpawnChild(echo, "calm")
			return func() { p.ExpectRestart(pid) }
		}},
		{"ExpectDeadLetter with none", "no matching dead letter", func(_ *actortest.Kit, p *actortest.Probe) func() {
			return func() { p.ExpectDeadLetter(nil) }
		}},
		{"ExpectNoDeadLetter with one waiting", "dead letter to", func(kit *actortest.Kit, p *actortest.Probe) func() {
			gone := kit.System.Root.Spawn(echo)
			_ = kit.System.Root.StopFuture(gone).Wait()
			kit.System.Root.Send(gone, &ping{1})
			return func() { p.ExpectNoDeadLetter(0) }
		}},
		{"Within exceeded", "no message within 1s", func(_ *actortest.Kit, p *actortest.Probe) func() {
			return func() { p.Within(time.Second, func() { p.Receive(time.Hour) }) }
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				kit, probe, tb := newFailingProbe(t)
				check := tc.setup(kit, probe)
				synctest.Wait()
				expectFailure(t, probe, tb, tc.want, check)
			})
		})
	}
}

func TestProbeWatchesSupervisesAndCatchesDeadLetters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kit := actortest.NewKit(t)
		var starts int
		props := actor.PropsFromFunc(func(c actor.Context) {
			switch c.Message().(type) {
			case *actor.Started:
				starts++
			case *ping:
				c.Send(c.Parent(), fmt.Sprintf("started %d times", starts))
			}
		}, actor.WithReceiverMiddleware(actortest.CrashOnCrash))
		child := kit.Probe.SpawnChild(props, "child")
		kit.Probe.Watch(child)

		kit.System.Root.Send(child, &actortest.Crash{Reason: "boom"})
		if ev := kit.Probe.ExpectRestart(child); ev.Reason != "boom" {
			t.Fatalf("restart reason %v, want boom", ev.Reason)
		}
		// The probe is the parent: the child's messages to its parent come to it.
		kit.System.Root.Send(child, &ping{})
		kit.Probe.ExpectMsg("started 2 times")

		kit.System.Root.Stop(child)
		if term := kit.Probe.ExpectTerminated(child); !term.Who.Equal(child) {
			t.Fatalf("terminated %v, want %v", term.Who, child)
		}
		kit.System.Root.Send(child, &ping{9})
		dead := kit.Probe.ExpectDeadLetter(nil)
		if m, ok := dead.Message.(*ping); !ok || m.n != 9 {
			t.Fatalf("dead letter %+v, want ping 9", dead.Message)
		}
	})
}

func TestWithinUsesVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kit := actortest.NewKit(t)
		late := kit.System.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if _, ok := c.Message().(*ping); ok {
				sender := c.Sender()
				time.AfterFunc(900*time.Millisecond, func() { kit.System.Root.Send(sender, "late but in time") })
			}
		}))
		start := time.Now()
		kit.Probe.Within(time.Second, func() {
			kit.Probe.Send(late, &ping{})
			kit.Probe.ExpectMsg("late but in time")
		})
		if took := time.Since(start); took != 900*time.Millisecond {
			t.Fatalf("took %v of virtual time, want exactly 900ms", took)
		}
	})
}

func TestAdvanceNeedsABubble(t *testing.T) {
	tb := &failingTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		actortest.Advance(tb, time.Hour)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Advance outside a bubble neither failed nor returned")
	}
	if !tb.failed || !strings.Contains(tb.msg, "needs a testing/synctest bubble") {
		t.Fatalf("Advance outside a bubble: failed=%v %q", tb.failed, tb.msg)
	}
}

// A message that arrives at the very instant of the deadline is received:
// which of two ready select cases Go picks never decides a test.
func TestMessageAtTheDeadlineWins(t *testing.T) {
	for i := range 20 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				kit := actortest.NewKit(t)
				timed := kit.System.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
					if _, ok := c.Message().(*ping); ok {
						sender := c.Sender()
						time.AfterFunc(time.Second, func() { kit.System.Root.Send(sender, "on the dot") })
					}
				}))
				kit.Probe.Send(timed, &ping{})
				if got := kit.Probe.Receive(time.Second); got != "on the dot" {
					t.Fatalf("got %v", got)
				}
			})
		})
	}
}

func TestSupervisedByDecidesTheDirective(t *testing.T) {
	t.Run("stop", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			kit := actortest.NewKit(t)
			stopper := actor.NewOneForOneStrategy(1, time.Minute, func(any) actor.Directive { return actor.StopDirective })
			probe := actortest.NewProbe(t, kit.System, actortest.SupervisedBy(stopper))
			child := probe.SpawnChild(actor.PropsFromFunc(func(actor.Context) {}, actor.WithReceiverMiddleware(actortest.CrashOnCrash)), "")
			kit.System.Root.Send(child, &actortest.Crash{Reason: "fatal"})
			if ev := probe.ExpectSupervision(child, actor.StopDirective); ev.Reason != "fatal" {
				t.Fatalf("reason %v", ev.Reason)
			}
		})
	})
	synctest.Test(t, func(t *testing.T) {
		kit := actortest.NewKit(t)
		tb := &failingTB{}
		t.Cleanup(func() {
			for i := len(tb.cleanups) - 1; i >= 0; i-- {
				tb.cleanups[i]()
			}
		})
		stopper := actor.NewOneForOneStrategy(1, time.Minute, func(any) actor.Directive { return actor.StopDirective })
		probe := actortest.NewProbe(tb, kit.System, actortest.SupervisedBy(stopper))
		child := probe.SpawnChild(actor.PropsFromFunc(func(actor.Context) {}, actor.WithReceiverMiddleware(actortest.CrashOnCrash)), "")
		probe.Watch(child)
		kit.System.Root.Send(child, &actortest.Crash{Reason: "fatal"})
		probe.ExpectTerminated(child)
		// The child was stopped, not restarted: ExpectRestart must say so.
		expectFailure(t, probe, tb, "no RestartDirective", func() { probe.ExpectRestart(child) })
	})
}
