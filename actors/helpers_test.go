package actors_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/catalog"
)

const (
	alice = "@alice:example.test"
	bob   = "@bob:example.test"
	bot   = "@bot:example.test"
)

// testTree is a real actor system running the tree on fake ports.
type testTree struct {
	t      *testing.T
	system *actor.ActorSystem
	root   *actor.PID
	store  *actortest.Store
	matrix *actortest.Matrix
	agents *actortest.Agents
	probe  *actortest.Probe
	cat    *catalog.Catalog
	seq    int
}

func newTestTree(t *testing.T, opts actors.Options) *testTree {
	t.Helper()
	return newSeededTree(t, opts, nil)
}

// newSeededTree runs seed on the tree's store before the tree starts, for
// tests of what the tree does with state left by an earlier run.
func newSeededTree(t *testing.T, opts actors.Options, seed func(tt *testTree)) *testTree {
	t.Helper()
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger().Level(zerolog.ErrorLevel)
	if testing.Verbose() {
		log = log.Level(zerolog.DebugLevel)
	}
	ctx := log.WithContext(context.Background())
	tt := &testTree{
		t:      t,
		system: actors.NewActorSystem(log),
		store:  actortest.NewStore(),
		matrix: actortest.NewMatrix(),
		agents: actortest.NewAgents(),
		cat:    catalog.MustNew("en"),
	}
	opts.BotUserID = bot
	deps := actors.Deps{
		Store: tt.store, Matrix: tt.matrix, Agents: tt.agents, Catalog: tt.cat,
		Registry: &actortest.Registry{List: []actors.AgentRef{{ID: "agent-0", Label: "Agent 0"}, {ID: "agent-1"}}},
	}
	if seed != nil {
		seed(tt)
	}
	root, err := actors.Spawn(ctx, tt.system, deps, opts)
	if err != nil {
		t.Fatal(err)
	}
	tt.root = root
	tt.probe = actortest.NewProbe(t, tt.system)
	tt.probe.Subscribe(func(e any) bool {
		switch e.(type) {
		case *actors.TurnEnded, *actors.MessageRejected, *actors.RoomRestarted:
			return true
		}
		return false
	})
	t.Cleanup(func() {
		tt.system.Root.StopFuture(root).Wait() //nolint:errcheck // shutting down
		tt.system.Shutdown()
		// Let protoactor's dead-letter throttle timers run out; in the
		// synctest bubble this is virtual time and costs nothing.
		time.Sleep(time.Minute)
	})
	return tt
}

// addRoom stores a user with one chat room, as onboarding would have.
func (tt *testTree) addRoom(userID, roomID, chatID string) {
	tt.t.Helper()
	ctx := context.Background()
	u, err := tt.store.GetUser(ctx, userID)
	if err != nil {
		u = actors.UserRecord{UserID: userID, SpaceID: "!space-" + userID, EntryRoomID: "!dm-" + userID, AgentID: "agent-0"}
	}
	u.ChatCounter++
	if err := tt.store.PutUser(ctx, u); err != nil {
		tt.t.Fatal(err)
	}
	r := actors.RoomRecord{RoomID: roomID, OwnerID: userID, SpaceID: u.SpaceID, ChatIndex: u.ChatCounter,
		Name: "Chat", PlatformChatID: chatID, AgentID: "agent-0"}
	if err := tt.store.PutRoom(ctx, r); err != nil {
		tt.t.Fatal(err)
	}
}

// say sends a text message from sender in roomID and returns its event id.
func (tt *testTree) say(sender, roomID, body string) string {
	tt.seq++
	id := fmt.Sprintf("$msg%d", tt.seq)
	tt.system.Root.Send(tt.root, &actors.MessageReceived{RoomID: roomID, EventID: id, Sender: sender, MsgType: "m.text", Body: body})
	return id
}

func (tt *testTree) conn() *actortest.Conn {
	tt.t.Helper()
	c, err := tt.agents.NextConn(actortest.DefaultTimeout)
	if err != nil {
		tt.t.Fatal(err)
	}
	return c
}

func (tt *testTree) turn(c *actortest.Conn) *actortest.Turn {
	tt.t.Helper()
	turn, err := c.NextTurn(actortest.DefaultTimeout)
	if err != nil {
		tt.t.Fatal(err)
	}
	return turn
}

// waitCall waits for a Matrix call of method in roomID whose text contains substr.
func (tt *testTree) waitCall(method, roomID, substr string) actortest.Call {
	tt.t.Helper()
	c, err := tt.matrix.WaitCall(actortest.DefaultTimeout, func(c actortest.Call) bool {
		return c.Method == method && (roomID == "" || c.RoomID == roomID) && strings.Contains(c.Text, substr)
	})
	if err != nil {
		tt.t.Fatal(err)
	}
	return c
}

func (tt *testTree) turnEnded(roomID string) *actors.TurnEnded {
	tt.t.Helper()
	return actortest.FishForMsg(tt.probe, func(e *actors.TurnEnded) bool { return e.RoomID == roomID })
}
