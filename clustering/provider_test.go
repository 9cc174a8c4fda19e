package clustering_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/clustering"
	"github.com/surfaces-bot/surfaces/persistence/pgstore"
	"github.com/surfaces-bot/surfaces/test/harness"
	"github.com/surfaces-bot/surfaces/test/needs"
)

// member is one process's part of the cluster: its database membership
// and its protoactor cluster, with an "echo" kind that answers with the id
// of the actor system it lives on.
type member struct {
	id      string
	store   *pgstore.Store
	member  *pgstore.Member
	cluster *cluster.Cluster
}

func startMember(t *testing.T, ctx context.Context, dsn, id string) *member {
	t.Helper()
	store, err := pgstore.Open(ctx, dsn, pgstore.Options{Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	m, err := store.Join(ctx, id, pgstore.MemberInfo{Host: "test", PID: os.Getpid()})
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	system := actors.NewActorSystem(*zerolog.Ctx(ctx))
	echo := cluster.NewKind("echo", actor.PropsFromFunc(func(c actor.Context) {
		if msg, ok := c.Message().(*wrapperspb.StringValue); ok {
			c.Respond(wrapperspb.String(system.ID + " " + msg.Value))
		}
	}))
	provider := clustering.NewProvider(ctx, store, m, 200*time.Millisecond)
	cfg := cluster.Configure("surfaces-test", provider, disthash.New(), remote.Configure("127.0.0.1", 0),
		cluster.WithKinds(echo), cluster.WithRequestTimeout(5*time.Second))
	c := cluster.New(system, cfg)
	c.StartMember()
	mem := &member{id: id, store: store, member: m, cluster: c}
	t.Cleanup(mem.stop)
	return mem
}

func (m *member) stop() {
	if m.cluster == nil {
		return
	}
	m.cluster.Shutdown(true)
	_ = m.member.Leave(context.Background())
	m.store.Close()
	m.cluster = nil
}

// waitMembers waits until m's topology holds n members.
func waitMembers(t *testing.T, ctx context.Context, m *member, n int) {
	t.Helper()
	for m.cluster.MemberList.Members().Len() != n {
		select {
		case <-ctx.Done():
			t.Fatalf("%s sees %d members, want %d", m.id, m.cluster.MemberList.Members().Len(), n)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// The members on the database form a protoactor-go cluster: each sees the
// others, grains spread over them and answer from any member; a member
// whose database session dies (as with kill -9) drops out of the others'
// topology and its grains answer from the members left (issue 24).
func TestMembersFormACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PostgreSQL; skipped with -short")
	}
	binDir, err := harness.PostgresBinDir()
	if err != nil {
		needs.Missing(t, err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel).WithContext(ctx)
	db, err := harness.StartPostgres(ctx, binDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	dsn, err := db.CreateDatabase(ctx, "cluster")
	if err != nil {
		t.Fatal(err)
	}

	var ms []*member
	for i := range 3 {
		ms = append(ms, startMember(t, ctx, dsn, fmt.Sprintf("m%d", i)))
	}
	for _, m := range ms {
		waitMembers(t, ctx, m, 3)
	}
	systems := map[string]string{} // actor system id → member id
	for _, m := range ms {
		systems[m.cluster.ActorSystem.ID] = m.id
	}

	// ask has every grain answer through m and returns where each lives.
	ask := func(m *member) map[string]string {
		t.Helper()
		at := map[string]string{}
		for i := range 30 {
			grain := fmt.Sprintf("room-%d", i)
			resp, err := m.cluster.Request(grain, "echo", wrapperspb.String(grain))
			if err != nil {
				t.Fatalf("%s asked %s: %v", m.id, grain, err)
			}
			var system, echoed string
			if _, err := fmt.Sscan(resp.(*wrapperspb.StringValue).Value, &system, &echoed); err != nil || echoed != grain {
				t.Fatalf("%s asked %s and got %q", m.id, grain, resp.(*wrapperspb.StringValue).Value)
			}
			at[grain] = systems[system]
		}
		return at
	}
	placed := ask(ms[0])
	used := map[string]bool{}
	for _, member := range placed {
		used[member] = true
	}
	if len(used) < 2 {
		t.Fatalf("30 grains all live on %v, want them spread over the members", used)
	}
	if again := ask(ms[1]); fmt.Sprint(again) != fmt.Sprint(placed) {
		t.Fatalf("m1 finds the grains at %v, m0 at %v: want one place each", again, placed)
	}

	// m2's session ends as if its process were killed: PostgreSQL drops its
	// advisory locks, and with them its membership.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var killed int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM (`+pgstore.MemberSessionsQuery()+`) s`, "m2").Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("ending m2's session: %d ended, %v", killed, err)
	}
	waitMembers(t, ctx, ms[0], 2)
	waitMembers(t, ctx, ms[1], 2)
	after := ask(ms[0])
	for grain, member := range after {
		if member == "m2" {
			t.Fatalf("%s still answers from m2, whose session ended", grain)
		}
		if placed[grain] != "m2" && member != placed[grain] {
			t.Fatalf("%s moved from %s to %s though its member lives", grain, placed[grain], member)
		}
	}
}
