package load_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/test/harness"
	"github.com/surfaces-bot/surfaces/test/load"
	"github.com/surfaces-bot/surfaces/test/needs"
)

// The load driver's smoke run (issue 21): a few users with two chats each,
// replies streaming, against the real stack. It fails on a lost or doubled
// reply; the numbers are printed, never asserted.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Dendrite, the agent and the bot; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	ctx = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel).WithContext(ctx)
	rep, err := load.Run(ctx, load.Config{Users: 3, Rooms: 2, Turns: 2, Pace: 200 * time.Millisecond, Stream: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.Print(&b)
	t.Log("\n" + b.String())
	if rep.Sent != 3*2*2 || rep.Lost != 0 || rep.Doubled != 0 {
		t.Fatalf("%d turns sent, %d replies lost, %d doubled: want 12, 0, 0", rep.Sent, rep.Lost, rep.Doubled)
	}
}

// The same smoke with Dendrite on PostgreSQL (Debian's package), as the
// driver runs it for loads where SQLite's single writer would be what is
// measured.
func TestSmokeOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PostgreSQL, Dendrite, the agent and the bot; skipped with -short")
	}
	if _, err := harness.PostgresBinDir(); err != nil {
		needs.Missing(t, err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	ctx = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel).WithContext(ctx)
	rep, err := load.Run(ctx, load.Config{Users: 2, Rooms: 1, Turns: 2, Pace: 200 * time.Millisecond, Stream: time.Second, Postgres: true})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.Print(&b)
	t.Log("\n" + b.String())
	if !strings.Contains(rep.Homeserver, "PostgreSQL") {
		t.Errorf("the report says the homeserver ran on %q", rep.Homeserver)
	}
	if rep.Sent != 2*1*2 || rep.Lost != 0 || rep.Doubled != 0 {
		t.Fatalf("%d turns sent, %d replies lost, %d doubled: want 4, 0, 0", rep.Sent, rep.Lost, rep.Doubled)
	}
}

// The bot as an application service on a homeserver that rate-limits
// (issue 23): the registration exempts it, so it meets no 429 however the
// load's users are limited.
func TestSmokeAppservice(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Dendrite, the agent and the bot; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	ctx = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel).WithContext(ctx)
	rep, err := load.Run(ctx, load.Config{Users: 3, Rooms: 2, Turns: 2, Pace: 200 * time.Millisecond, Stream: time.Second,
		Appservice: true, HomeserverRateLimited: true})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.Print(&b)
	t.Log("\n" + b.String())
	if rep.Sent != 3*2*2 || rep.Lost != 0 || rep.Doubled != 0 {
		t.Fatalf("%d turns sent, %d replies lost, %d doubled: want 12, 0, 0", rep.Sent, rep.Lost, rep.Doubled)
	}
	if rep.RateLimited != 0 {
		t.Fatalf("the appservice bot got %v 429s, want none", rep.RateLimited)
	}
}
