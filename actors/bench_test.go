package actors_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/root"
	"github.com/surfaces-bot/surfaces/workspace"
)

// benchTree runs the real tree on fake ports whose agent answers every turn
// with chunks text chunks and END at once.
type benchTree struct {
	system *actor.ActorSystem
	root   *actor.PID
	store  *actortest.Store
	ended  chan *actors.TurnEnded
}

func newBenchTree(b *testing.B, chunks int) *benchTree {
	return newBenchTreeWith(b, chunks, actors.Options{})
}

func newBenchTreeWith(b *testing.B, chunks int, opts actors.Options) *benchTree {
	log := zerolog.New(io.Discard)
	agents := actortest.NewAgents()
	agents.Script = func(actors.UserMessage) []actors.AgentEvent {
		evs := make([]actors.AgentEvent, 0, chunks+1)
		for i := range chunks {
			evs = append(evs, actortest.Text("chunk "+strconv.Itoa(i)+" "))
		}
		return append(evs, actortest.End(1))
	}
	bt := &benchTree{system: actors.NewActorSystem(log), store: actortest.NewStore(), ended: make(chan *actors.TurnEnded, 1<<16)}
	if opts.PassivateAfter == 0 {
		opts.PassivateAfter = -1 // the throughput benchmarks keep their actors
	}
	deps := actors.Deps{
		Store: bt.store, Matrix: actortest.NewMatrix(), Agents: agents, Catalog: catalog.MustNew("en"), Files: workspace.New(b.TempDir(), 1<<20),
		Registry: &actortest.Registry{List: []actors.AgentRef{{ID: "agent-0"}}},
	}
	opts.BotUserID = bot
	root, err := root.Spawn(log.WithContext(context.Background()), bt.system, deps, opts)
	if err != nil {
		b.Fatal(err)
	}
	bt.root = root
	sub := bt.system.EventStream.Subscribe(func(e any) {
		if te, ok := e.(*actors.TurnEnded); ok {
			bt.ended <- te
		}
	})
	b.Cleanup(func() {
		bt.system.EventStream.Unsubscribe(sub)
		bt.system.Root.StopFuture(root).Wait() //nolint:errcheck // shutting down
		bt.system.Shutdown()
	})
	return bt
}

func (bt *benchTree) addRooms(b *testing.B, n int) []string {
	rooms := make([]string, n)
	for i := range rooms {
		user := fmt.Sprintf("@u%d:bench.test", i)
		rooms[i] = fmt.Sprintf("!room%d", i)
		ctx := context.Background()
		if err := bt.store.PutUser(ctx, actors.UserRecord{UserID: user, SpaceID: "!s", ChatCounter: 1}); err != nil {
			b.Fatal(err)
		}
		if err := bt.store.PutRoom(ctx, actors.RoomRecord{RoomID: rooms[i], OwnerID: user, ChatIndex: 1, PlatformChatID: strconv.Itoa(i), AgentID: "agent-0"}); err != nil {
			b.Fatal(err)
		}
	}
	return rooms
}

func (bt *benchTree) send(room string, i int) {
	user := "@u" + room[len("!room"):] + ":bench.test"
	bt.system.Root.Send(bt.root, &actors.MessageReceived{RoomID: room, EventID: "$" + strconv.Itoa(i), Sender: user, MsgType: "m.text", Body: "hi"})
}

// BenchmarkTurn20Chunks measures one turn of 20 chunks through the room
// actor's pipeline (queue, agent events, streaming view, Matrix send,
// record saves), one turn at a time in one room. The fake agent queues
// its 20 chunks and end at once, so they are taken as one batch and the
// reply is one message, no edit (takeQueued).
func BenchmarkTurn20Chunks(b *testing.B) {
	bt := newBenchTree(b, 20)
	room := bt.addRooms(b, 1)[0]
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		bt.send(room, i)
		<-bt.ended
	}
}

// BenchmarkTurns1000Rooms measures throughput with 1,000 rooms (each of its
// own user) busy at once; turns/s is the number to read.
func BenchmarkTurns1000Rooms(b *testing.B) {
	const nRooms = 1000
	bt := newBenchTree(b, 20)
	rooms := bt.addRooms(b, nRooms)
	b.ReportAllocs()
	b.ResetTimer()
	turns := 0
	for i := 0; i < b.N; i++ {
		for _, r := range rooms {
			bt.send(r, turns)
			turns++
		}
		for range rooms {
			<-bt.ended
		}
	}
	b.ReportMetric(float64(turns)/b.Elapsed().Seconds(), "turns/s")
}

// BenchmarkResidentActors measures what passivation buys: 1,000 users with
// 10 known rooms each (10,000 rooms), of which 1,000 (one per user) get a
// turn. It reports the resident actors and the heap while those rooms are
// active and once they have been idle for PassivateAfter.
func BenchmarkResidentActors(b *testing.B) {
	const users, roomsEach = 1000, 10
	for b.Loop() {
		bt := newBenchTreeWith(b, 5, actors.Options{PassivateAfter: time.Second})
		ctx := context.Background()
		for u := range users {
			user := fmt.Sprintf("@u%d:bench.test", u)
			if err := bt.store.PutUser(ctx, actors.UserRecord{UserID: user, SpaceID: "!s", ChatCounter: roomsEach}); err != nil {
				b.Fatal(err)
			}
			for r := range roomsEach {
				rec := actors.RoomRecord{RoomID: fmt.Sprintf("!room%d-%d", u, r), OwnerID: user, ChatIndex: r + 1,
					PlatformChatID: strconv.Itoa(u*roomsEach + r + 1), AgentID: "agent-0"}
				if err := bt.store.PutRoom(ctx, rec); err != nil {
					b.Fatal(err)
				}
			}
		}
		base := actors.CountActors(bt.system)
		for u := range users {
			bt.system.Root.Send(bt.root, &actors.MessageReceived{RoomID: fmt.Sprintf("!room%d-0", u), EventID: "$" + strconv.Itoa(u),
				Sender: fmt.Sprintf("@u%d:bench.test", u), MsgType: "m.text", Body: "hi"})
		}
		for range users {
			<-bt.ended
		}
		active, activeHeap := actors.CountActors(bt.system)-base, heapMB()
		deadline := time.Now().Add(20 * time.Second)
		for actors.CountActors(bt.system)-base > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		idle, idleHeap := actors.CountActors(bt.system)-base, heapMB()
		b.ReportMetric(float64(active), "active_actors")
		b.ReportMetric(activeHeap, "active_heap_MB")
		b.ReportMetric(float64(idle), "idle_actors")
		b.ReportMetric(idleHeap, "idle_heap_MB")
	}
}

func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}
