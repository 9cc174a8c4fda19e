package load_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/test/load"
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
