package integration

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/reconcile"
	"github.com/surfaces-bot/surfaces/actors/root"
	"github.com/surfaces-bot/surfaces/persistence"
	"github.com/surfaces-bot/surfaces/workspace"
)

// BenchmarkKnownRooms is issue 21's "many known rooms" (point 5): users ×
// 10 chats known to the bot, the whole tree on a real Badger and a fake
// homeserver holding the bot's state events (in process: the bot's own
// work is measured, not HTTP). In order it reports:
//
//   - lost_disk_s: from an empty state directory to the tree serving
//     (start-up reconciliation rebuilds every user and room record);
//   - cold_start_s: a restart with the state directory intact, to the tree
//     serving (the same reconciliation, which now only compares);
//   - actors_ready and heap_ready_MB: resident actors and the Go heap
//     (Badger's included, the fake homeserver's not) once serving;
//   - actors_active and heap_active_MB while 1,000 rooms (one per user of
//     the first thousand) have a turn;
//   - actors_idle and heap_idle_MB once they passivated (after 1 s idle);
//   - rss_MB: the process's resident set at the end (the fake homeserver
//     and the benchmark's own data included: an upper bound).
//
// Run it alone: go test -tags goolm -run '^$' -bench KnownRooms -benchtime 1x ./test/integration/
func BenchmarkKnownRooms(b *testing.B) {
	for _, users := range []int{1000, 3000, 10000} {
		b.Run(fmt.Sprintf("%dx10", users), func(b *testing.B) {
			for b.Loop() {
				knownRooms(b, users, 10)
			}
		})
	}
}

func knownRooms(b *testing.B, users, roomsEach int) {
	ctx := zerolog.New(io.Discard).WithContext(context.Background())
	matrix := botStateFor(users, roomsEach)
	base := heapMB()
	dir := filepath.Join(b.TempDir(), "state")

	tree, took := startKnownTree(b, ctx, dir, matrix)
	b.ReportMetric(took.Seconds(), "lost_disk_s")
	if got := tree.report.RecoveredRooms; got != users*roomsEach {
		b.Fatalf("reconciliation recovered %d rooms, want %d", got, users*roomsEach)
	}
	tree.stop(b)

	tree, took = startKnownTree(b, ctx, dir, matrix)
	defer tree.stop(b)
	b.ReportMetric(took.Seconds(), "cold_start_s")
	if r := tree.report; r.RecoveredRooms != 0 || r.RepairedRecords != 0 || r.Rooms != users*(roomsEach+1) {
		b.Fatalf("a restart with the state intact reconciled %+v, want %d rooms (chats and Spaces) and nothing to repair", r, users*(roomsEach+1))
	}
	ready := actors.CountActors(tree.system)
	b.ReportMetric(float64(ready), "actors_ready")
	b.ReportMetric(heapMB()-base, "heap_ready_MB")

	active := min(users, 1000)
	for u := range active {
		tree.system.Root.Send(tree.root, &actors.MessageReceived{RoomID: fmt.Sprintf("!room%d-0", u), EventID: "$" + strconv.Itoa(u),
			Sender: fmt.Sprintf("@u%d:bench.test", u), MsgType: "m.text", Body: "hi"})
	}
	for range active {
		<-tree.ended
	}
	b.ReportMetric(float64(actors.CountActors(tree.system)), "actors_active")
	b.ReportMetric(heapMB()-base, "heap_active_MB")
	deadline := time.Now().Add(30 * time.Second)
	for actors.CountActors(tree.system) > ready && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	b.ReportMetric(float64(actors.CountActors(tree.system)), "actors_idle")
	b.ReportMetric(heapMB()-base, "heap_idle_MB")
	b.ReportMetric(rssMB(), "rss_MB")
}

// botStateFor is a fake homeserver holding what the bot wrote for users ×
// roomsEach chats: each chat's and each Space's state events.
func botStateFor(users, roomsEach int) *actortest.Matrix {
	matrix := actortest.NewMatrix()
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for u := range users {
		owner := fmt.Sprintf("@u%d:bench.test", u)
		space := fmt.Sprintf("!space%d", u)
		var children []string
		for r := range roomsEach {
			room := fmt.Sprintf("!room%d-%d", u, r)
			children = append(children, room)
			matrix.SetRoomState(room, actors.RoomState{Chat: &actors.ChatState{Owner: owner, SpaceID: space, ChatIndex: r + 1,
				Name: "Chat " + strconv.Itoa(r+1), PlatformChatID: strconv.Itoa(u*roomsEach + r + 1), AgentID: "agent-0", UpdatedAt: at},
				Members: map[string]string{owner: "join"}})
		}
		matrix.SetRoomState(space, actors.RoomState{Space: &actors.SpaceState{Owner: owner, EntryRoomID: "!dm" + strconv.Itoa(u),
			AgentID: "agent-0", ChatCounter: roomsEach, UpdatedAt: at}, Children: children})
	}
	return matrix
}

// knownTree is the whole tree on a real Badger, its agent answering every
// turn at once.
type knownTree struct {
	system *actor.ActorSystem
	root   *actor.PID
	store  *persistence.Store
	ended  chan *actors.TurnEnded
	report reconcile.Report
}

// startKnownTree opens the state directory, spawns the tree and returns it
// once start-up reconciliation is over (the bot's /readyz waits for the
// same), with how long that took from opening the store.
func startKnownTree(b *testing.B, ctx context.Context, dir string, matrix *actortest.Matrix) (*knownTree, time.Duration) {
	b.Helper()
	start := time.Now()
	store, err := persistence.Open(ctx, dir, persistence.Options{})
	if err != nil {
		b.Fatal(err)
	}
	agents := actortest.NewAgents()
	agents.Script = func(actors.UserMessage) []actors.AgentEvent {
		return []actors.AgentEvent{actortest.Text("hello"), actortest.End(1)}
	}
	t := &knownTree{system: actors.NewActorSystem(*zerolog.Ctx(ctx)), store: store, ended: make(chan *actors.TurnEnded, 1<<14)}
	reconciled := make(chan *reconcile.Reconciled, 1)
	t.system.EventStream.Subscribe(func(e any) {
		switch e := e.(type) {
		case *reconcile.Reconciled:
			reconciled <- e
		case *actors.TurnEnded:
			t.ended <- e
		}
	})
	t.root, err = root.Spawn(ctx, t.system, actors.Deps{
		Store: store, Matrix: matrix, Agents: agents, Catalog: catalog.MustNew("en"), Files: workspace.New(b.TempDir(), 1<<20),
		Registry: &actortest.Registry{List: []actors.AgentRef{{ID: "agent-0"}}},
	}, actors.Options{BotUserID: "@bot:bench.test", PassivateAfter: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	select {
	case done := <-reconciled:
		if done.Err != nil {
			b.Fatal(done.Err)
		}
		t.report = done.Report
	case <-time.After(5 * time.Minute):
		b.Fatal("start-up reconciliation did not end")
	}
	return t, time.Since(start)
}

func (t *knownTree) stop(b *testing.B) {
	_ = t.system.Root.StopFuture(t.root).Wait()
	t.system.Shutdown()
	if err := t.store.Close(); err != nil {
		b.Fatal(err)
	}
}

func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// rssMB is this process's resident set (Linux; 0 elsewhere).
func rssMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
