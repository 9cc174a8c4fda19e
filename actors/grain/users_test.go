package grain_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/root"
	"github.com/surfaces-bot/surfaces/actors/user"
)

// spawnRoot starts the root on member A, as on the ingress holder: it
// reaches the users' actors through the cluster.
func (m *members) spawnRoot(t *testing.T) *actor.PID {
	t.Helper()
	deps := m.k.Deps()
	deps.Placer = m.placer
	pid, err := root.Spawn(m.k.Ctx, m.k.System, deps, m.k.Options)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.k.System.Root.StopFuture(pid).Wait() })
	return pid
}

// usersOn returns n user ids whose grains the cluster places on the member
// at address, each with one chat room stored.
func (m *members) usersOn(t *testing.T, address string, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; len(ids) < n; i++ {
		if i > 1000 {
			t.Fatalf("no %d users placed on %s", n, address)
		}
		id := fmt.Sprintf("@u%d:example.test", i)
		if m.placer.Owner(actors.UserKind, id) != address {
			continue
		}
		ids = append(ids, id)
		m.k.AddRoom(id, roomOf(id), fmt.Sprint(200+i))
	}
	return ids
}

// waitActivated waits until roomID's actor took its record (a new epoch).
func (m *members) waitActivated(t *testing.T, roomID string) {
	t.Helper()
	if err := eventually(10*time.Second, func() bool {
		rec, err := m.k.Store.GetRoom(context.Background(), roomID)
		return err == nil && rec.Epoch >= 1
	}); err != nil {
		t.Fatalf("the room was not activated: %v", err)
	}
}

func roomOf(userID string) string { return "!" + strings.TrimPrefix(userID, "@") }

func tell(m *members, root *actor.PID, userID, eventID, body string) *atomic.Int32 {
	n := &atomic.Int32{}
	m.k.Probe.Send(root, &actors.MessageReceived{RoomID: roomOf(userID), EventID: eventID, Sender: userID, MsgType: "m.text", Body: body,
		Ack: actors.NewAck(func() { n.Add(1) })})
	return n
}

// The users' actors are grains too: the root on the ingress holder sends
// each user's events to the member the user is placed on, and each event
// is acked back to it once, when the room's record holds it (issue 24).
func TestUserGrainsServeUsersOnEveryMember(t *testing.T) {
	m := newMembers(t)
	k := m.k
	m.echo()
	users := append(m.usersOn(t, m.a.ActorSystem.Address(), 3), m.usersOn(t, m.b.ActorSystem.Address(), 3)...)
	pid := m.spawnRoot(t)
	mark := k.Matrix.Mark()
	var acks []*atomic.Int32
	for i, u := range users {
		acks = append(acks, tell(m, pid, u, fmt.Sprintf("$e%d", i), fmt.Sprintf("hello %d", i)))
	}
	for i, u := range users {
		k.WaitCall(mark, "SendText", roomOf(u), fmt.Sprintf("re: hello %d", i))
	}
	ackedOnce(t, acks)
	for _, c := range m.both() {
		hosted := c.GetClusterKind(actors.UserKind).Count()
		if hosted != 3 {
			t.Errorf("%s hosts %d user grains, want 3", c.ActorSystem.Address(), hosted)
		}
		// surfaces_actors{kind="user"} counts a grain's user actor.
		if n := actors.CountActorsByKind(c.ActorSystem).Users; n != int(hosted) {
			t.Errorf("%s: %d user actors counted, %d user grains", c.ActorSystem.Address(), n, hosted)
		}
	}
}

// A user's grain that ends without the root asking (its member died, it
// moved) loses none of the user's events: the root places it again and
// sends it what it had not acked; the room drops what it already took, so
// the message is answered once.
func TestAUserGrainThatEndsGetsItsEventsAgain(t *testing.T) {
	m := newMembers(t)
	k := m.k
	m.echo()
	u := m.usersOn(t, m.b.ActorSystem.Address(), 1)[0]
	pid := m.spawnRoot(t)

	release := k.Store.HoldRoomWrites()
	defer release()
	n := tell(m, pid, u, "$one", "hello")
	m.waitActivated(t, roomOf(u))
	grainPID := m.b.Get(u, actors.UserKind)
	if grainPID == nil || grainPID.Address != m.b.ActorSystem.Address() {
		t.Fatalf("the user's grain is %v, want one on member B", grainPID)
	}
	if n.Load() != 0 {
		t.Fatal("acked before the room's record was written")
	}
	// The user's grain is stopped under the root's feet.
	if err := m.b.ActorSystem.Root.StopFuture(grainPID).Wait(); err != nil {
		t.Fatal(err)
	}
	// The room's ack to the ended activation is lost with it; the next
	// activation is given the event again, which the room took already
	// and acks once its record holds it.
	mark := k.Matrix.Mark()
	release()
	if err := eventually(10*time.Second, func() bool { return n.Load() == 1 }); err != nil {
		t.Fatalf("the event was not acked after the user's grain came back: %v", err)
	}
	k.WaitCall(mark, "SendText", roomOf(u), "re: hello")
	time.Sleep(200 * time.Millisecond) // a second reply would be on its way by now
	if got := len(k.Matrix.CallsSince(mark, "SendText")); got != 1 {
		t.Fatalf("%d replies, want 1", got)
	}
	if n.Load() != 1 {
		t.Fatalf("the event was acked %d times", n.Load())
	}
}

// A user's actor that starts again in a cluster (its grain was lost with
// its member, or moved) wakes its rooms whose record says a turn was
// running: a room cut with that member tells its user at once, without
// waiting for the user's next message there.
func TestAUserActivationWakesItsUnfinishedRooms(t *testing.T) {
	m := newMembers(t)
	k := m.k
	m.echo()
	u := m.usersOn(t, m.b.ActorSystem.Address(), 1)[0]
	cut := k.AddRoom(u, "!cut", "300")
	pid := m.spawnRoot(t)
	mark := k.Matrix.Mark()
	n := tell(m, pid, u, "$one", "hello")
	k.WaitCall(mark, "SendText", roomOf(u), "re: hello")
	if err := eventually(10*time.Second, func() bool { return n.Load() == 1 }); err != nil {
		t.Fatal(err)
	}
	// A turn in !cut ran on a member that died (as its record says), and
	// so did the user's grain: nothing but the user's next activation
	// knows of the room.
	cut.TurnInFlight = &actors.InFlightTurn{EventID: "$cut", Text: "long story", StartedAt: time.Now()}
	if err := k.Store.PutRoom(context.Background(), cut); err != nil {
		t.Fatal(err)
	}
	grainPID := m.b.Get(u, actors.UserKind)
	if grainPID == nil {
		t.Fatal("the user has no grain")
	}
	mark = k.Matrix.Mark()
	if err := m.b.ActorSystem.Root.StopFuture(grainPID).Wait(); err != nil {
		t.Fatal(err)
	}
	k.WaitCall(mark, "SendNotice", "!cut", "")
	if got := len(k.Matrix.CallsSince(mark, "SendNotice")); got != 1 {
		t.Fatalf("%d notices, want one in the cut room", got)
	}
}

// A user's grain that moves (its placement names another member now) hands
// its rooms over first: the running reply is finished and nobody is told
// of a cut, the user's actor stops only after its rooms' grains ended, and
// an event that came meanwhile is answered once by the next activation.
func TestAMovingUserGrainLetsItsRoomsFinishFirst(t *testing.T) {
	m := newMembers(t)
	k := m.k
	u := m.usersOn(t, m.b.ActorSystem.Address(), 1)[0]
	pid := m.spawnRoot(t)
	mark := k.Matrix.Mark()

	tell(m, pid, u, "$one", "first")
	conn := k.NextConn()
	turn := k.NextTurn(conn)
	turn.Emit(actortest.Text("part one"))
	k.WaitCall(mark, "SendText", roomOf(u), "part one")

	grainPID := m.b.Get(u, actors.UserKind)
	if grainPID == nil {
		t.Fatal("the user has no grain")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- m.b.ActorSystem.Root.PoisonFuture(grainPID).Wait() }()
	second := tell(m, pid, u, "$two", "second")
	// The room's reply still streams, held by the test: however long we
	// look, the user's grain waits for it (a grain that did not would stop
	// within milliseconds).
	select {
	case err := <-stopped:
		t.Fatalf("the user's grain stopped (%v) with its room's turn still running", err)
	case <-time.After(time.Second):
	}
	turn.Emit(actortest.Text(" and two"), actortest.End(1))
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	// The next activation is given "second" again and its room runs it.
	conn2 := k.NextConn()
	next := k.NextTurn(conn2)
	if next.Msg.Text != "second" {
		t.Fatalf("the next activation ran %q, want \"second\"", next.Msg.Text)
	}
	next.Emit(actortest.Text("re: second"), actortest.End(1))
	k.WaitCall(mark, "SendText", roomOf(u), "re: second")
	if err := eventually(10*time.Second, func() bool { return second.Load() == 1 }); err != nil {
		t.Fatalf("the event sent during the hand-over was not acked: %v", err)
	}
	if err := eventually(5*time.Second, func() bool {
		for _, c := range k.Matrix.CallsSince(mark, "EditText", "SendText") {
			if strings.Contains(c.Text, "part one and two") {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the first reply was not finished: %v", err)
	}
	for _, c := range k.Matrix.CallsSince(mark, "SendNotice") {
		t.Fatalf("a notice during the hand-over: %q", c.Text)
	}
	if second.Load() != 1 {
		t.Fatalf("the event was acked %d times", second.Load())
	}
}

// A room grain whose owner changed (its user's actor started again, on
// another member or after its member died) still stops once idle: the
// host reports what the room received since the new owner took over,
// which is what that owner counts as sent.
func TestAGrainWithANewOwnerStillPassivates(t *testing.T) {
	m := newMembersWith(t, func(o *actors.Options) { o.PassivateAfter = 2 * time.Second })
	k := m.k
	m.echo()
	k.AddRoom(alice, "!r", "100")
	first := m.spawnUser(t)
	mark := k.Matrix.Mark()
	say(m, first, "!r", "$one", "hello")
	k.WaitCall(mark, "SendText", "!r", "re: hello")
	// The user's actor ends; the next one sends the room a message too.
	if err := k.System.Root.StopFuture(first).Wait(); err != nil {
		t.Fatal(err)
	}
	deps := k.Deps()
	deps.Placer = m.placer
	props, err := user.NewProps(k.Ctx, deps, k.Options, alice)
	if err != nil {
		t.Fatal(err)
	}
	next := k.Probe.SpawnChild(props, "user-alice-next")
	ackedOnce(t, []*atomic.Int32{say(m, next, "!r", "$two", "again")})
	k.WaitCall(mark, "SendText", "!r", "re: again")
	if err := eventually(15*time.Second, func() bool { a, b := m.grains(); return a+b == 0 }); err != nil {
		a, b := m.grains()
		t.Fatalf("the idle room's grain did not stop (%d on A, %d on B): %v", a, b, err)
	}
}
