package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// BenchmarkEncryptionOverhead measures what end-to-end encryption adds to
// a streamed reply (PRODUCT R10; the README's numbers): the time from a
// user's message to the first visible part of the bot's reply, in a plain
// chat and in an encrypted one of the same stack and the same user client
// (one that encrypts, as Element does); the bot is restarted with
// encryption "default" in between to make the encrypted chat.
//
//	go test -tags goolm -run '^$' -bench EncryptionOverhead -benchtime 20x ./test/e2e/
func BenchmarkEncryptionOverhead(b *testing.B) {
	ctx, stack, alice, plain, encrypted := encryptedBenchStack(b)
	for _, room := range []struct {
		name string
		id   id.RoomID
	}{{"plain", plain}, {"encrypted", encrypted}} {
		b.Run(room.name, func(b *testing.B) {
			var samples []time.Duration
			for b.Loop() {
				samples = append(samples, firstVisible(ctx, b, stack, alice, room.id, "/slow 3"))
			}
			slices.Sort(samples)
			b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "ms-median-first-visible")
			b.ReportMetric(float64(samples[len(samples)*9/10].Microseconds())/1000, "ms-p90-first-visible")
		})
	}
}

// BenchmarkCryptoStoreGrowth runs b.N encrypted turns and reports the size
// of the bot's crypto store afterwards (the README gives it for 1,000).
//
//	go test -tags goolm -run '^$' -bench CryptoStoreGrowth -benchtime 1000x ./test/e2e/
func BenchmarkCryptoStoreGrowth(b *testing.B) {
	ctx, stack, alice, _, encrypted := encryptedBenchStack(b)
	i := 0
	for b.Loop() {
		i++
		text := fmt.Sprintf("turn %d", i)
		sent, err := alice.SendText(ctx, encrypted, text)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := alice.WaitMessage(ctx, encrypted, func(m harness.Message) bool {
			return m.Sender == stack.BotID && m.FinalBody == "echo: "+text && m.Encrypted && alice.ArrivedAfter(encrypted, sent, m.EventID)
		}); err != nil {
			b.Fatal(err)
		}
	}
	var size int64
	for _, name := range []string{"crypto.db", "crypto.db-wal"} {
		if fi, err := os.Stat(filepath.Join(stack.Dir(), "state", name)); err == nil {
			size += fi.Size()
		}
	}
	b.ReportMetric(float64(size)/(1<<20), "crypto-store-MiB")
	b.ReportMetric(float64(b.N), "turns")
}

// encryptedBenchStack is a stack whose user encrypts, with a plain Chat 1
// and an encrypted chat the bot made after a restart with encryption
// "default".
func encryptedBenchStack(b *testing.B) (ctx context.Context, stack *harness.Stack, alice *harness.UserClient, plain, encrypted id.RoomID) {
	b.Helper()
	opts := harness.StackOptions{Users: []string{"alice"}, BotEnv: []string{
		// A benchmark types faster than a person.
		"SURFACES_RATE_LIMIT_RATE=1000", "SURFACES_RATE_LIMIT_BURST=10000",
	}}
	opts.Agent.SlowDelay, opts.Agent.SlowChunks = 50*time.Millisecond, 3
	ctx, stack, alice, plain = benchStack(b, opts, harness.WithCrypto())
	if err := stack.StopBot(); err != nil {
		b.Fatal(err)
	}
	stack.SetBotEnv("SURFACES_MATRIX_ENCRYPTION=default")
	if err := stack.StartBot(ctx); err != nil {
		b.Fatal(err)
	}
	known := map[id.RoomID]bool{}
	for _, inv := range alice.Invites() {
		known[inv.RoomID] = true
	}
	if _, err := alice.SendText(ctx, plain, "!new"); err != nil {
		b.Fatal(err)
	}
	inv, err := alice.WaitInvite(ctx, func(inv harness.Invite) bool { return inv.Sender == stack.BotID && !known[inv.RoomID] })
	if err != nil {
		b.Fatal(err)
	}
	if err := alice.WaitJoined(ctx, inv.RoomID); err != nil {
		b.Fatal(err)
	}
	return ctx, stack, alice, plain, inv.RoomID
}

// firstVisible sends text in room and returns the time until the user's
// client shows the first event of the bot's reply (decrypted, in an
// encrypted room).
func firstVisible(ctx context.Context, b *testing.B, stack *harness.Stack, alice *harness.UserClient, room id.RoomID, text string) time.Duration {
	b.Helper()
	start := time.Now()
	sent, err := alice.SendText(ctx, room, text)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := alice.WaitMessage(ctx, room, func(m harness.Message) bool {
		return m.Sender == stack.BotID && alice.ArrivedAfter(room, sent, m.EventID)
	}); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	// Let the reply finish before the next sample.
	if _, err := alice.WaitMessage(ctx, room, func(m harness.Message) bool {
		return m.Sender == stack.BotID && alice.ArrivedAfter(room, sent, m.EventID) && strings.TrimSpace(m.FinalBody) == "chunk 1 chunk 2 chunk 3"
	}); err != nil {
		b.Fatal(err)
	}
	return took
}
