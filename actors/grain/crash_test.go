package grain_test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/grain"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// An owner (the root, a user's actor) that crashes keeps its grains'
// links across the restart, and a grain's ack that reached its mailbox
// while it restarted is not lost: the next incarnation holds the links
// from Started on, before it handles that ack. Each case crashes the owner
// with an ack of the first Deliver right behind the crash in its mailbox
// (the ack the grain would send once its write landed, which the test
// holds so that no other ack comes), and the event must be acked once.
func TestAnOwnersCrashKeepsItsGrainsAcks(t *testing.T) {
	for _, tc := range []struct {
		name string
		// owner returns the crashing owner on its member and the ack its
		// grain sends it for the first Deliver.
		owner func(m *members, root *actor.PID, userID string) (*actor.ActorSystem, *actor.PID, *grain.Reported)
	}{
		{"the root", func(m *members, root *actor.PID, userID string) (*actor.ActorSystem, *actor.PID, *grain.Reported) {
			return m.k.System, root, &grain.Reported{ID: userID, Acked: 1}
		}},
		{"a user's actor", func(m *members, _ *actor.PID, userID string) (*actor.ActorSystem, *actor.PID, *grain.Reported) {
			host := m.b.Get(userID, actors.UserKind)
			// The user's actor is its grain host's child (host.go).
			return m.b.ActorSystem, actor.NewPID(host.Address, host.Id+"/"+actors.UserKind), &grain.Reported{ID: roomOf(userID), Acked: 1}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMembers(t)
			k := m.k
			m.echo()
			u := m.usersOn(t, m.b.ActorSystem.Address(), 1)[0]
			root := m.spawnRoot(t)
			// The room's write never lands: no ack comes but the test's.
			release := k.Store.HoldRoomWrites()
			t.Cleanup(release)
			n := tell(m, root, u, "$one", "hello")
			m.waitActivated(t, roomOf(u))
			system, owner, ack := tc.owner(m, root, u)
			// One sender: the mailbox keeps the order, the ack right
			// behind the crash.
			system.Root.Send(owner, &kit.TaskPanicked{Value: "crash for the test"})
			system.Root.Send(owner, ack)
			if err := eventually(10*time.Second, func() bool { return n.Load() == 1 }); err != nil {
				t.Fatalf("the ack that came while the owner restarted was lost: %v", err)
			}
			time.Sleep(200 * time.Millisecond) // a second ack would be on its way by now
			if got := n.Load(); got != 1 {
				t.Fatalf("the event was acked %d times", got)
			}
		})
	}
}
