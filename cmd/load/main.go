// Command load puts many users on the bot at once and prints what they saw:
// it starts Dendrite, the reference agent and the bot on loopback, registers
// and onboards the users, gives each some chats and drives turns in all of
// them, while two more users message each other to measure the
// homeserver's own latency (the floor) in the same window. See test/load.
//
//	go run -tags goolm ./cmd/load [-users 10] [-rooms 1] [-turns 3] [-pace 1s] [-stream 0s] [-burst] [-json FILE] [-bot-binary FILE]
//	    [-homeserver-db sqlite|postgres] [-appservice] [-homeserver-rate-limited] [-bot-env NAME=value,...]
//	    [-members 3]
//
// With -members the bot runs as a cluster on PostgreSQL, and the run kills
// the ingress holder during the first turn, then kills a standing-by member
// and adds one during the second (issue 24's simulation; test/load/cluster.go).
//
// It exits 1 when a reply was lost or doubled, or a cut turn was not told
// once.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/test/load"
)

func main() {
	var cfg load.Config
	flag.IntVar(&cfg.Users, "users", 10, "users at once")
	flag.IntVar(&cfg.Rooms, "rooms", 1, "chats per user (made with !new)")
	flag.IntVar(&cfg.Turns, "turns", 3, "messages per chat, each after the reply to the one before")
	flag.DurationVar(&cfg.Pace, "pace", time.Second, "pause between a user's messages in one chat")
	flag.DurationVar(&cfg.Stream, "stream", 0, "how long each reply streams (0: an instant echo)")
	flag.BoolVar(&cfg.Burst, "burst", false, "each turn a burst: a message in every chat of a user at once, measured to the last first reply against the same burst between two users")
	botEnv := flag.String("bot-env", "", "extra settings for the bot, comma-separated NAME=value (e.g. SURFACES_MATRIX_SEND_RATE=1000)")
	jsonPath := flag.String("json", "", "also write the report as JSON to this file")
	homeserverDB := flag.String("homeserver-db", "sqlite", "what Dendrite stores in: sqlite, or postgres (a PostgreSQL server of the run's own, from Debian's package postgresql)")
	flag.BoolVar(&cfg.Appservice, "appservice", false, "run the bot as an application service (Dendrite pushes events to it; encryption off)")
	flag.BoolVar(&cfg.BothModes, "both-modes", false, "run the load twice on one homeserver: the bot syncing, then as an application service (-appservice is then implied)")
	flag.BoolVar(&cfg.HomeserverRateLimited, "homeserver-rate-limited", false, "turn Dendrite's rate limiting on (the bot is exempt only as an appservice)")
	flag.DurationVar(&cfg.OnboardTimeout, "onboard-timeout", 0, "how long the crowd may take to onboard before the run fails, naming who was not (0: 2 minutes and a second a chat)")
	flag.BoolVar(&cfg.Grains, "grains", false, "with -members, spread the rooms over the members (cluster.grains); the chaos kills a member serving rooms, then the ingress holder, then adds a member (needs -turns 4 or more)")
	flag.IntVar(&cfg.Members, "members", 0, "run the bot as this many members of a cluster on PostgreSQL (2 or more), killing and adding members while replies stream (needs -stream)")
	flag.StringVar(&cfg.BotBinary, "bot-binary", "", "run this bot binary instead of building ./cmd/surfaces (to compare versions)")
	flag.Parse()
	switch *homeserverDB {
	case "sqlite":
	case "postgres":
		cfg.Postgres = true
	default:
		fmt.Fprintf(os.Stderr, "load: -homeserver-db is sqlite or postgres, not %q\n", *homeserverDB)
		os.Exit(2)
	}
	if *botEnv != "" {
		cfg.BotEnv = strings.Split(*botEnv, ",")
	}
	cfg.Progress = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	var reps []*load.Report
	var err error
	if cfg.BothModes {
		reps, err = load.RunBothModes(log.WithContext(ctx), cfg)
	} else {
		var rep *load.Report
		rep, err = load.Run(log.WithContext(ctx), cfg)
		reps = []*load.Report{rep}
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load failed:", err)
		os.Exit(1)
	}
	failed := false
	for i, rep := range reps {
		if i > 0 {
			fmt.Println()
		}
		rep.Print(os.Stdout)
		failed = failed || rep.Lost > 0 || rep.Doubled > 0 || rep.RoomsToldWrong > 0
	}
	if *jsonPath != "" {
		// One report as it is; both modes' as a list, syncing first.
		var v any = reps
		if len(reps) == 1 {
			v = reps[0]
		}
		data, err := json.MarshalIndent(v, "", "  ")
		if err == nil {
			err = os.WriteFile(*jsonPath, append(data, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "failed to write the report:", err)
			os.Exit(1)
		}
	}
	if failed {
		os.Exit(1)
	}
}
