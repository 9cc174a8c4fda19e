package integration

import (
	"context"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/root"
	"github.com/surfaces-bot/surfaces/agents"
	"github.com/surfaces-bot/surfaces/agents/refagent"
	"github.com/surfaces-bot/surfaces/persistence"
	"github.com/surfaces-bot/surfaces/test/wait"
	"github.com/surfaces-bot/surfaces/workspace"
)

const owner = "@alice:hs.test"

const misbehaviour = `
default:
  - {type: AGENT_EVENT_TEXT_CHUNK, text: "all good"}
  - {type: AGENT_EVENT_END, tokens_used: 2}
turns:
  garbage:
    - {type: AGENT_EVENT_TEXT_CHUNK, text: "partial before garbage"}
    - raw: "{not json"
  binary:
    - {type: AGENT_EVENT_TEXT_CHUNK, text: "partial before binary"}
    - binary: "\x01\x02"
  silence:
    - {type: AGENT_EVENT_TEXT_CHUNK, text: "partial before silence"}
    - hang: true
  drop:
    - {type: AGENT_EVENT_TEXT_CHUNK, text: "partial before drop"}
    - close: abrupt
  escape:
    - {type: AGENT_EVENT_SEND_FILE, path: "../../etc/passwd"}
    - {type: AGENT_EVENT_END}
  approve:
    - {type: AGENT_EVENT_CONFIRM_REQUEST, id: c-1, text: "Delete the draft?"}
    - wait_confirm: true
    - {type: AGENT_EVENT_TEXT_CHUNK, text: "confirmed and done"}
    - {type: AGENT_EVENT_END}
`

// startAgent serves a scripted reference agent on loopback and returns its base URL.
func startAgent(t *testing.T, script string) string {
	t.Helper()
	sc, err := refagent.ParseScript([]byte(script))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := refagent.New(refagent.Config{Mode: refagent.ModeScripted, Script: sc,
		Agents: []refagent.Agent{{ID: "agent-0", Workspace: t.TempDir()}}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); ts.Close() })
	return ts.URL + "/agent_0/"
}

type rig struct {
	t      *testing.T
	system *actor.ActorSystem
	root   *actor.PID
	matrix *actortest.Matrix
	store  *writeSignal
	seq    int
}

// writeSignal is the real Badger store that also reports every room record
// it wrote, so a test can wait for a write instead of reading too early.
type writeSignal struct {
	*persistence.Store
	rooms chan actors.RoomRecord
}

// PutRoom implements actors.Store.
func (s *writeSignal) PutRoom(ctx context.Context, r actors.RoomRecord) error {
	err := s.Store.PutRoom(ctx, r)
	if err == nil {
		select {
		case s.rooms <- r:
		default: // nobody is listening for this many writes; never block the actor
		}
	}
	return err
}

func newRig(t *testing.T, agentList []actors.AgentRef) *rig {
	t.Helper()
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel)
	ctx := log.WithContext(context.Background())
	store, err := persistence.Open(ctx, filepath.Join(t.TempDir(), "state"), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, system: actors.NewActorSystem(log), matrix: actortest.NewMatrix(),
		store: &writeSignal{Store: store, rooms: make(chan actors.RoomRecord, 1024)}}
	dialer := agents.NewDialer(agents.Options{ConnectTimeout: 2 * time.Second, StatusTimeout: time.Second, TurnIdleTimeout: time.Second})
	r.root, err = root.Spawn(ctx, r.system, actors.Deps{
		Store: r.store, Matrix: r.matrix, Agents: dialer, Catalog: catalog.MustNew("en"), Files: workspace.New(t.TempDir(), 1<<20),
		Registry: &actortest.Registry{List: agentList},
	}, actors.Options{
		BotUserID: "@bot:hs.test",
		// One user with a room on each agent: only users who choose their
		// agents (!agent) have that; under operator routing the rooms of an
		// unassigned user would move to the default agent.
		UserSelectableAgents: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.system.Root.StopFuture(r.root).Wait()
		r.system.Shutdown()
		_ = store.Close()
	})
	ctxT := context.Background()
	if err := store.PutUser(ctxT, actors.UserRecord{UserID: owner, SpaceID: "!space", ChatCounter: len(agentList)}); err != nil {
		t.Fatal(err)
	}
	for i, a := range agentList {
		chatID, err := store.NextPlatformChatID(ctxT)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.PutRoom(ctxT, actors.RoomRecord{RoomID: "!" + a.ID, OwnerID: owner, ChatIndex: i + 1,
			Name: a.ID, PlatformChatID: chatID, AgentID: a.ID}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *rig) say(roomID, text string) {
	r.seq++
	r.system.Root.Send(r.root, &actors.MessageReceived{RoomID: roomID, EventID: "$e" + string(rune('a'+r.seq)),
		Sender: owner, MsgType: "m.text", Body: text})
}

// wait waits for a Matrix call after mark of method in roomID containing
// substr; a generous deadline, since real sockets and real timeouts are
// involved (it costs nothing when the call comes).
func (r *rig) wait(after actortest.Mark, method, roomID, substr string) {
	r.t.Helper()
	if _, err := r.matrix.WaitCall(after, 30*time.Second, func(c actortest.Call) bool {
		return c.Method == method && c.RoomID == roomID && strings.Contains(c.Text, substr)
	}); err != nil {
		r.t.Fatalf("waiting for %s in %s containing %q: %v", method, roomID, substr, err)
	}
}

// waitPost waits for a reply's post (a message or an edit) after mark in
// roomID whose text contains substr.
func (r *rig) waitPost(after actortest.Mark, roomID, substr string) {
	r.t.Helper()
	if _, err := r.matrix.WaitCall(after, 30*time.Second, func(c actortest.Call) bool {
		return (c.Method == "SendText" || c.Method == "EditText") && c.RoomID == roomID && strings.Contains(c.Text, substr)
	}); err != nil {
		r.t.Fatalf("waiting for a post in %s containing %q: %v", roomID, substr, err)
	}
}

// waitExact waits for a Matrix call after mark of method in roomID whose
// text is exactly text.
func (r *rig) waitExact(after actortest.Mark, method, roomID, text string) {
	r.t.Helper()
	if _, err := r.matrix.WaitCall(after, 30*time.Second, func(c actortest.Call) bool {
		return c.Method == method && c.RoomID == roomID && c.Text == text
	}); err != nil {
		r.t.Fatalf("waiting for %s in %s of exactly %q: %v", method, roomID, text, err)
	}
}

func closedPortURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/agent_9/"
}

func TestAgentMisbehaviourBecomesPlainNotices(t *testing.T) {
	flaky := startAgent(t, misbehaviour)
	mute := startAgent(t, "on_connect:\n  - hang: true\ndefault:\n  - {type: AGENT_EVENT_END}\n")
	r := newRig(t, []actors.AgentRef{
		{ID: "flaky", BaseURL: flaky, WorkspacePath: "/agents/0"},
		{ID: "mute", BaseURL: mute, WorkspacePath: "/agents/1"},
		{ID: "down", BaseURL: closedPortURL(t), WorkspacePath: "/agents/2"},
	})
	incomplete := catalog.MustNew("en").T(catalog.Incomplete)

	tests := []struct {
		trigger, partial, notice string
	}{
		{"garbage", "partial before garbage", "could not understand"},
		{"binary", "partial before binary", "could not understand"},
		{"silence", "partial before silence", "stopped responding"},
		{"drop", "partial before drop", "connection to the agent was lost"},
	}
	for _, tc := range tests {
		t.Run(tc.trigger, func(t *testing.T) {
			r.t = t
			m := r.matrix.Mark()
			r.say("!flaky", tc.trigger)
			// The partial reply is kept and marked incomplete, then
			// explained: its final edit, or its only message when the
			// failure came with the partial text (taken together).
			r.waitPost(m, "!flaky", tc.partial+"\n\n"+incomplete)
			r.wait(m, "SendNotice", "!flaky", tc.notice)
			// The next message simply works (a fresh connection is dialed).
			m = r.matrix.Mark()
			r.say("!flaky", "hello again")
			r.waitExact(m, "SendText", "!flaky", "all good")
		})
	}
	t.Run("a path outside the workspace is refused", func(t *testing.T) {
		r.t = t
		m := r.matrix.Mark()
		r.say("!flaky", "escape")
		r.wait(m, "SendNotice", "!flaky", "outside its workspace")
	})
	t.Run("a confirmation request is answered with !yes", func(t *testing.T) {
		r.t = t
		m := r.matrix.Mark()
		r.say("!flaky", "approve")
		r.wait(m, "SendNotice", "!flaky", "Delete the draft?")
		m = r.matrix.Mark()
		r.say("!flaky", "!yes")
		r.wait(m, "SendText", "!flaky", "confirmed and done")
	})
	t.Run("no STATUS", func(t *testing.T) {
		r.t = t
		m := r.matrix.Mark()
		r.say("!mute", "anyone?")
		r.wait(m, "SendNotice", "!mute", "can't be reached")
	})
	t.Run("agent down", func(t *testing.T) {
		r.t = t
		m := r.matrix.Mark()
		r.say("!down", "anyone?")
		r.wait(m, "SendNotice", "!down", "can't be reached")
	})
	t.Run("the bot is alive after all of it", func(t *testing.T) {
		r.t = t
		for drained := false; !drained; { // forget the writes of earlier turns
			select {
			case <-r.store.rooms:
			default:
				drained = true
			}
		}
		m := r.matrix.Mark()
		r.say("!flaky", "final check")
		r.waitExact(m, "SendText", "!flaky", "all good")
		// The turn's last write clears its in-flight mark; wait for that
		// write rather than read the store before it lands.
		for {
			rec := wait.Recv(t, r.store.rooms, "the room record written at the end of the turn")
			if rec.RoomID == "!flaky" && rec.TurnInFlight == nil {
				break
			}
		}
		if rec, err := r.store.GetRoom(context.Background(), "!flaky"); err != nil || rec.TurnInFlight != nil {
			t.Fatalf("room record %+v, %v: want no turn in flight", rec, err)
		}
	})
}
