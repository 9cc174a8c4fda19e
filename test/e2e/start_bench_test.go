package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// BenchmarkColdStartToReady measures a start of the built binary against a
// running Dendrite until it logs "ready" (first sync and reconciliation
// done, /readyz 200), with one onboarded user; Dendrite's own start is not
// in it.
func BenchmarkColdStartToReady(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	ctx = zerolog.New(os.Stderr).Level(zerolog.WarnLevel).WithContext(ctx)
	stack, err := harness.StartStack(ctx, harness.StackOptions{Users: []string{"alice"}})
	if err != nil {
		b.Fatal(err)
	}
	defer stack.Close()
	if err := stack.StartBot(ctx); err != nil {
		b.Fatal(err)
	}
	alice, err := stack.Login(ctx, "alice")
	if err != nil {
		b.Fatal(err)
	}
	defer alice.Close()
	alice.AcceptInvites(true)
	onboard(ctx, b, stack.BotID, alice)
	for b.Loop() {
		b.StopTimer()
		if err := stack.StopBot(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := stack.StartBot(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
