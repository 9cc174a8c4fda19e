package actortest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/room"
	"github.com/surfaces-bot/surfaces/actors/root"
	"github.com/surfaces-bot/surfaces/actors/user"
	"github.com/surfaces-bot/surfaces/test/wait"
	"github.com/surfaces-bot/surfaces/workspace"
)

// Kit is everything a test of one actor, or of the whole tree, needs: a real
// actor system, a fake of every port, a probe, and the options and logger the
// actors get. Fields may be changed (Options, Registry) before spawning.
type Kit struct {
	T TB
	// Ctx carries the zerolog logger the actors log to (stderr, errors only
	// unless the test runs with -v).
	Ctx    context.Context
	System *actor.ActorSystem
	Probe  *Probe

	Store    *Store
	Matrix   *Matrix
	Agents   *Agents
	Registry *Registry
	Catalog  *catalog.Catalog
	// Files is a real shared volume in a temporary directory, Volume its
	// root; the registry's agents have their workspaces in it ("0", "1").
	Files  *workspace.Files
	Volume string
	// Drain, when set, is passed to the actors spawned after (see actors.Drain).
	Drain *actors.Drain
	// Pacer, when set before the tree is spawned, paces the tree's posts
	// (a test tells it of 429s with RateLimited); nil makes one under
	// Options.SendBudget.
	Pacer *actors.SendPacer
	// Options are passed to every actor the kit spawns; BotUserID is
	// preset to BotUserID.
	Options actors.Options
}

// The ids a kit's world is made of.
const (
	// BotUserID is the bot's own Matrix id in a Kit.
	BotUserID = "@bot:example.test"
	// AgentID is the first agent of a Kit's registry; users not in
	// Registry.Users get it (the "default" policy).
	AgentID = "agent-0"
)

// NewKit returns a kit whose actor system is shut down by t.Cleanup. Make it
// inside synctest.Test to run the actors' timers in virtual time.
func NewKit(t TB) *Kit {
	t.Helper()
	level := zerolog.ErrorLevel
	if testing.Verbose() {
		level = zerolog.DebugLevel
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger().Level(level)
	volume, err := os.MkdirTemp("", "surfaces-volume-")
	if err != nil {
		t.Fatalf("kit: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(volume) })
	for _, ws := range []string{"0", "1"} {
		if err := os.MkdirAll(filepath.Join(volume, ws), 0o750); err != nil {
			t.Fatalf("kit: %v", err)
		}
	}
	k := &Kit{
		Files:   workspace.New(volume, 1<<20),
		Volume:  volume,
		T:       t,
		Ctx:     log.WithContext(context.Background()),
		System:  actors.NewActorSystem(log),
		Store:   NewStore(),
		Matrix:  NewMatrix(),
		Agents:  NewAgents(),
		Catalog: catalog.MustNew("en"),
		Registry: &Registry{List: []actors.AgentRef{
			{ID: AgentID, Label: "Agent 0", WorkspacePath: filepath.Join(volume, "0")},
			{ID: "agent-1", Label: "Agent 1", WorkspacePath: filepath.Join(volume, "1")},
		}},
		Options: actors.Options{BotUserID: BotUserID},
	}
	// Registered before the probe's cleanup, so it runs after it: the
	// system outlives the probe.
	t.Cleanup(func() {
		k.System.Shutdown()
		settle()
	})
	k.Probe = NewProbe(t, k.System)
	return k
}

// Deps returns the kit's fakes as the actors' ports.
func (k *Kit) Deps() actors.Deps {
	return actors.Deps{Store: k.Store, Matrix: k.Matrix, Agents: k.Agents, Registry: k.Registry, Catalog: k.Catalog, Files: k.Files, Drain: k.Drain, Pacer: k.Pacer}
}

// SpawnTree starts the whole tree (root, user and room actors) on the kit's
// fakes and returns the root, stopped by t.Cleanup.
func (k *Kit) SpawnTree() *actor.PID {
	k.T.Helper()
	pid, err := root.Spawn(k.Ctx, k.System, k.Deps(), k.Options)
	if err != nil {
		k.T.Fatalf("kit: spawning the tree: %v", err)
	}
	k.T.Cleanup(func() { _ = k.System.Root.StopFuture(pid).Wait() })
	return pid
}

// SpawnRoom stores rec (as onboarding would have) and starts its room actor
// alone, as a child of the probe: RoomUpdated reports come to the probe, and
// a crash is restarted by the probe's supervisor (see ExpectRestart).
func (k *Kit) SpawnRoom(rec actors.RoomRecord) *actor.PID {
	k.T.Helper()
	if err := k.Store.PutRoom(context.Background(), rec); err != nil {
		k.T.Fatalf("kit: storing room %s: %v", rec.RoomID, err)
	}
	props, err := room.NewProps(k.Ctx, k.Deps(), k.Options, rec)
	if err != nil {
		k.T.Fatalf("kit: room props: %v", err)
	}
	return k.Probe.SpawnChild(props, "room-"+rec.RoomID)
}

// SpawnUser starts the user actor of userID alone, as a child of the probe;
// it loads whatever the kit's Store holds for the user.
func (k *Kit) SpawnUser(userID string) *actor.PID {
	k.T.Helper()
	props, err := user.NewProps(k.Ctx, k.Deps(), k.Options, userID)
	if err != nil {
		k.T.Fatalf("kit: user props: %v", err)
	}
	return k.Probe.SpawnChild(props, "user-"+userID)
}

// Room returns a room record for tests: userID's chat number index in
// roomID, on the kit's first agent at platform chat chatID.
func Room(userID, roomID, chatID string, index int) actors.RoomRecord {
	return actors.RoomRecord{RoomID: roomID, OwnerID: userID, SpaceID: "!space-" + userID, ChatIndex: index,
		Name: "Chat", PlatformChatID: chatID, AgentID: AgentID}
}

// AddRoom stores userID (creating the user record on first use, with a Space
// and an entry room) and one more of their chat rooms, as onboarding and !new
// would have, and returns the room record.
func (k *Kit) AddRoom(userID, roomID, chatID string) actors.RoomRecord {
	k.T.Helper()
	ctx := context.Background()
	u, err := k.Store.GetUser(ctx, userID)
	if err != nil {
		u = actors.UserRecord{UserID: userID, SpaceID: "!space-" + userID, EntryRoomID: "!dm-" + userID, AgentID: AgentID}
	}
	u.ChatCounter++
	if err := k.Store.PutUser(ctx, u); err != nil {
		k.T.Fatalf("kit: storing user %s: %v", userID, err)
	}
	r := Room(userID, roomID, chatID, u.ChatCounter)
	if err := k.Store.PutRoom(ctx, r); err != nil {
		k.T.Fatalf("kit: storing room %s: %v", roomID, err)
	}
	return r
}

// WaitCall waits for a Matrix call after mark whose method is method, in
// roomID (any room if empty), whose text contains substr; it fails the test
// after DefaultTimeout (or the probe's Within block).
func (k *Kit) WaitCall(after Mark, method, roomID, substr string) Call {
	k.T.Helper()
	c, err := k.Matrix.WaitCall(after, k.Probe.bound(DefaultTimeout), func(c Call) bool {
		return c.Method == method && (roomID == "" || c.RoomID == roomID) && strings.Contains(c.Text, substr)
	})
	if err != nil {
		k.T.Fatalf("kit: waiting for %s in %q containing %q: %v", method, roomID, substr, err)
	}
	return c
}

// NextConn returns the next agent connection the actors dialed.
func (k *Kit) NextConn() *Conn {
	k.T.Helper()
	c, err := k.Agents.NextConn(k.Probe.bound(DefaultTimeout))
	if err != nil {
		k.T.Fatalf("kit: %v", err)
	}
	return c
}

// NextTurn returns the next turn started on conn.
func (k *Kit) NextTurn(conn *Conn) *Turn {
	k.T.Helper()
	t, err := conn.NextTurn(k.Probe.bound(DefaultTimeout))
	if err != nil {
		k.T.Fatalf("kit: %v", err)
	}
	return t
}

// settle lets timers the actor system leaves behind run out. protoactor's
// dead-letter log throttle keeps a goroutine waiting on a ticker; in a
// synctest bubble time stops once the test function returns, so that
// goroutine would be reported as deadlocked. Inside a bubble the sleep is
// virtual and free; outside one nothing needs to wait.
func settle() {
	if wait.InBubble() {
		time.Sleep(time.Minute)
	}
}

// Advance moves a synctest bubble's virtual clock forward by d and returns
// once every goroutine in the bubble is idle: the way an actor test lets
// timers (edit throttles, typing refreshes, idle timeouts) fire without
// sleeping on the real clock. Outside a bubble it fails the test.
func Advance(t TB, d time.Duration) {
	t.Helper()
	if !wait.InBubble() {
		t.Fatalf("actortest.Advance needs a testing/synctest bubble")
	}
	time.Sleep(d)
	synctest.Wait()
}
