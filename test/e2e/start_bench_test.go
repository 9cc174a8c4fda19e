package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// BenchmarkColdStartToReady measures a start of the built binary against a
// running Dendrite until it logs "ready" (first sync and reconciliation
// done, /readyz 200), with one onboarded user; Dendrite's own start is not
// in it.
func BenchmarkColdStartToReady(b *testing.B) {
	ctx, stack, _, _ := benchStack(b, harness.StackOptions{Users: []string{"alice"}})
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

// benchStack starts a stack for a benchmark (its logs at warn), the bot,
// and onboards alice; everything stops with b's cleanup. It returns alice
// and her Chat 1.
func benchStack(b *testing.B, opts harness.StackOptions, clientOpts ...harness.ClientOption) (context.Context, *harness.Stack, *harness.UserClient, id.RoomID) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	b.Cleanup(cancel)
	ctx = zerolog.New(os.Stderr).Level(zerolog.WarnLevel).WithContext(ctx)
	stack, err := harness.StartStack(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stack.Close() })
	if err := stack.StartBot(ctx); err != nil {
		b.Fatal(err)
	}
	alice, err := stack.Login(ctx, "alice", clientOpts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = alice.Close() })
	alice.AcceptInvites(true)
	_, chat := onboard(ctx, b, stack.BotID, alice)
	return ctx, stack, alice, chat
}
