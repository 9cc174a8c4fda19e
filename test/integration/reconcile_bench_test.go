package integration

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/reconcile"
	"github.com/surfaces-bot/surfaces/persistence"
	"github.com/surfaces-bot/surfaces/workspace"
)

// BenchmarkReconcileLostDisk measures start-up reconciliation after the
// state directory was lost, for 1,000 users with 10 chats each: it reads
// 11,000 rooms' state (from a fake homeserver holding what the bot wrote,
// so the network is not measured) and writes 1,000 user and 10,000 room
// records to a real Badger.
func BenchmarkReconcileLostDisk(b *testing.B) {
	const users, roomsEach = 1000, 10
	ctx := zerolog.New(io.Discard).WithContext(context.Background())
	matrix := botStateFor(users, roomsEach)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		store, err := persistence.Open(ctx, filepath.Join(b.TempDir(), "state"), persistence.Options{})
		if err != nil {
			b.Fatal(err)
		}
		deps := actors.Deps{Store: store, Matrix: matrix, Agents: actortest.NewAgents(), Catalog: catalog.MustNew("en"), Files: workspace.New(b.TempDir(), 1<<20),
			Registry: &actortest.Registry{List: []actors.AgentRef{{ID: "agent-0"}}}}
		b.StartTimer()
		plan, err := reconcile.Run(ctx, deps, false)
		b.StopTimer()
		if err != nil || plan.Report.RecoveredRooms != users*roomsEach || plan.Report.RecoveredUsers != users {
			b.Fatalf("recovered %d users and %d rooms (%v), want %d and %d", plan.Report.RecoveredUsers, plan.Report.RecoveredRooms, err, users, users*roomsEach)
		}
		if err := store.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(users*roomsEach), "rooms/op")
}
