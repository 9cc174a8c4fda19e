package load_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/test/harness"
	"github.com/surfaces-bot/surfaces/test/load"
	"github.com/surfaces-bot/surfaces/test/needs"
)

// The load driver's smoke runs (issue 21): a few users with chats, replies
// streaming, against the real stack. Each fails on a lost or doubled
// reply; the numbers are printed, never asserted.
func TestSmoke(t *testing.T) {
	smoke(t, load.Config{Users: 3, Rooms: 2, Turns: 2})
}

// The same with Dendrite on PostgreSQL (Debian's package), as the driver
// runs it for loads where SQLite's single writer would be what is
// measured.
func TestSmokeOnPostgres(t *testing.T) {
	if _, err := harness.PostgresBinDir(); err != nil && !testing.Short() {
		needs.Missing(t, err.Error())
	}
	rep := smoke(t, load.Config{Users: 2, Rooms: 1, Turns: 2, Postgres: true})
	if !strings.Contains(rep.Homeserver, "PostgreSQL") {
		t.Errorf("the report says the homeserver ran on %q", rep.Homeserver)
	}
}

// The bot syncing, then as an application service, on one homeserver that
// rate-limits (issue 23): as an appservice the registration exempts it, so
// it meets no 429 however the load's users are limited; in both modes
// every reply arrives once.
func TestSmokeBothModes(t *testing.T) {
	reps := smokeWith(t, load.Config{Users: 3, Rooms: 2, Turns: 2, BothModes: true, HomeserverRateLimited: true}, load.RunBothModes)
	if len(reps) != 2 || !strings.Contains(reps[0].Homeserver, "syncing") || !strings.Contains(reps[1].Homeserver, "application service") {
		t.Fatalf("got %d reports, want the bot syncing, then as an application service", len(reps))
	}
	if reps[1].RateLimited != 0 {
		t.Fatalf("the appservice bot got %v 429s, want none", reps[1].RateLimited)
	}
}

// TestSmokeBurst: one user with three chats sends a message in each at
// once, twice; each burst's last first reply is reported beside the same
// burst between two users, and the same burst relayed.
func TestSmokeBurst(t *testing.T) {
	rep := smoke(t, load.Config{Users: 1, Rooms: 3, Turns: 2, Burst: true})
	if rep.BurstLast.N != 2 || rep.FloorBurst.N != 2 || rep.RelayBurst.N != 2 || rep.BurstRatioP50 <= 0 || rep.BurstRelayRatioP50 <= 0 {
		t.Fatalf("bursts reported: %d of the bot's, %d user to user, %d relayed, ratios %.2f and %.2f; want 2, 2, 2 and two ratios",
			rep.BurstLast.N, rep.FloorBurst.N, rep.RelayBurst.N, rep.BurstRatioP50, rep.BurstRelayRatioP50)
	}
}

// TestSimulationCluster is issue 24's simulation: three members of a
// cluster on PostgreSQL, Dendrite and the reference agent on loopback,
// replies streaming for 8 s. During the first turn the ingress holder is
// killed with SIGKILL: the turns it streamed are cut, and each must be
// told so exactly once by the member that takes over; during the second a
// standing-by member is killed and a new one joins; nothing may be lost or
// doubled, and no turn after the first may be cut; another member must take
// the ingress within 10 s of the kill, and each cut turn's notice must be
// stamped within 10 s of it unless its room had to ask the homeserver (see
// checkChaos). The members' RSS and the latencies are printed.
//
// It is sized for this machine: 6 rooms (3 users × 2 chats); 200 rooms
// (20 users × 10 chats, 6 to 8 minutes, most of it Dendrite making the
// rooms) when SURFACES_SIMULATION is "full", as .ci/run sets it.
func TestSimulationCluster(t *testing.T) {
	if _, err := harness.PostgresBinDir(); err != nil && !testing.Short() {
		needs.Missing(t, err.Error())
	}
	users, rooms := 3, 2
	if os.Getenv("SURFACES_SIMULATION") == "full" {
		users, rooms = 20, 10
	}
	rep := smoke(t, load.Config{Users: users, Rooms: rooms, Turns: 3, Stream: 8 * time.Second, Members: 3,
		OnboardTimeout: 15 * time.Minute})
	checkChaos(t, rep, []string{" turn 1"},
		"killed member-0 (the ingress holder)", "took the ingress over", "(standing by)", "member-3 joined")
}

// checkChaos fails t unless a cluster run's kills cut some turn, each cut
// turn was told once and no other room told, only turns whose text ends
// in one of cutIn were cut, and the chaos did each of did.
func checkChaos(t *testing.T, rep *load.Report, cutIn []string, did ...string) {
	t.Helper()
	if rep.Cut == 0 {
		t.Fatal("killing members mid-stream cut no turn: the kills came too late to test anything")
	}
	if rep.RoomsToldWrong != 0 {
		for _, d := range rep.ToldWrong {
			t.Log(d)
		}
		t.Fatalf("%d rooms were told of a cut reply otherwise than once a cut turn (%d notices for %d cut turns)", rep.RoomsToldWrong, rep.CutNotices, rep.Cut)
	}
	for _, turn := range rep.TurnDetails {
		if turn.Cut && !slices.ContainsFunc(cutIn, func(suffix string) bool { return strings.HasSuffix(turn.Text, suffix) }) {
			t.Fatalf("%q was cut: only the turns%v had a member serving them killed", turn.Text, cutIn)
		}
	}
	chaos := strings.Join(rep.Chaos, "; ")
	for _, want := range did {
		if !strings.Contains(chaos, want) {
			t.Fatalf("the cluster's chaos was %q, missing %q", chaos, want)
		}
	}
	// Issue 24: another member takes the ingress within 10 s of the
	// holder's kill -9. Measured 0.07-0.8 s here and on CI (PostgreSQL
	// ends the dead session's locks when its connection drops), so the
	// bound is the issue's, far from this machine's noise.
	if rep.TakeoverMS <= 0 || rep.TakeoverMS > 10_000 {
		t.Fatalf("another member took the ingress %.0f ms after the holder's kill, want within 10 s (0: never)", rep.TakeoverMS)
	}
	// Issue 24: a member's rooms answer again within 10 s of its kill -9:
	// each cut turn's notice, as the homeserver stamped it (the users'
	// clients see everything tens of seconds late at 200 rooms here, the
	// floor's lag too). Measured at most 3.9 s at 200 rooms. A turn caught
	// ending with a new message is the exception the bot cannot shorten:
	// only a read shows whether that message landed, and the room asks the
	// homeserver first (matrix/replyend.go), as long as its reads lag.
	for _, turn := range rep.TurnDetails {
		if turn.Cut && turn.CutStamped > load.CutAnswerWithin {
			if !turn.CutAsked {
				t.Errorf("%q was told cut %v after the kill that cut it, want within %v", turn.Text, turn.CutStamped, load.CutAnswerWithin)
			} else {
				t.Logf("%q was told cut %v after the kill that cut it: caught ending with a new message, its room asked the homeserver first", turn.Text, turn.CutStamped)
			}
		}
	}
}

// TestSimulationGrains is issue 24's simulation with the rooms spread over
// the members as grains (cluster.grains): three members, replies
// streaming for 8 s. During the first turn a member serving rooms that is
// not the ingress holder is killed with SIGKILL, during the second the
// holder; each turn either kill cut must be told so exactly once, by the
// member its room is placed on next. During the third a member joins and
// the users and rooms placed on it move there, each room finishing its
// reply first: nothing of that turn or the last may be cut. Nothing may be
// lost or doubled. Then the same load runs against one bot (cluster mode
// off, Dendrite on PostgreSQL as in the cluster run), and the first
// visible replies of both are printed side by side. Sized like
// TestSimulationCluster.
func TestSimulationGrains(t *testing.T) {
	if _, err := harness.PostgresBinDir(); err != nil && !testing.Short() {
		needs.Missing(t, err.Error())
	}
	users, rooms := 3, 2
	if os.Getenv("SURFACES_SIMULATION") == "full" {
		users, rooms = 20, 10
	}
	reps := smokeWith(t, load.Config{Users: users, Rooms: rooms, Turns: 4, Stream: 8 * time.Second, Members: 3, Grains: true,
		OnboardTimeout: 15 * time.Minute}, func(ctx context.Context, cfg load.Config) ([]*load.Report, error) {
		cluster, err := load.Run(ctx, cfg)
		if err != nil {
			return nil, err
		}
		one := cfg
		one.Members, one.Grains, one.Postgres = 0, false, true
		single, err := load.Run(ctx, one)
		if err != nil {
			return nil, fmt.Errorf("the same load against one bot: %w", err)
		}
		return []*load.Report{cluster, single}, nil
	})
	checkChaos(t, reps[0], []string{" turn 1", " turn 2"},
		"(serving rooms)", "killed member-0 (the ingress holder)", "took the ingress over", "member-3 joined")
	for i, name := range []string{"3 members, grains, 2 killed, 1 added", "one bot, cluster mode off"} {
		fv, floor := reps[i].FirstVisible, reps[i].Floor
		t.Logf("first visible reply, %-40s p50 %6.0f ms, p95 %6.0f ms (the floor p50 %6.0f ms, p95 %6.0f ms)", name+":", fv.P50, fv.P95, floor.P50, floor.P95)
	}
}

// smoke runs cfg with replies streaming for a second (unless it says), 200 ms between a
// user's messages, logs the report and fails on a reply lost or doubled.
func smoke(t *testing.T, cfg load.Config) *load.Report {
	t.Helper()
	return smokeWith(t, cfg, func(ctx context.Context, cfg load.Config) ([]*load.Report, error) {
		rep, err := load.Run(ctx, cfg)
		return []*load.Report{rep}, err
	})[0]
}

// smokeWith is smoke with run for load.Run: each report it returns is
// logged and checked.
func smokeWith(t *testing.T, cfg load.Config, run func(context.Context, load.Config) ([]*load.Report, error)) []*load.Report {
	t.Helper()
	if testing.Short() {
		t.Skip("runs Dendrite, the agent and the bot; skipped with -short")
	}
	// The full-size simulation took 20 minutes on CI's machine, most of
	// it Dendrite making 200 rooms; the bound is for a run that hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	ctx = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel).WithContext(ctx)
	cfg.Pace = 200 * time.Millisecond
	if cfg.Stream == 0 {
		cfg.Stream = time.Second
	}
	reps, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, rep := range reps {
		var b strings.Builder
		rep.Print(&b)
		t.Log("\n" + b.String())
		if want := cfg.Users * cfg.Rooms * cfg.Turns; rep.Sent != want || rep.Lost != 0 || rep.Doubled != 0 {
			for _, d := range rep.Missed {
				t.Log(d)
			}
			t.Fatalf("%s: %d turns sent, %d replies lost, %d doubled: want %d, 0, 0", rep.Homeserver, rep.Sent, rep.Lost, rep.Doubled, want)
		}
		if rep.Members == 0 && rep.Cut != 0 {
			t.Fatalf("%s: %d turns were told their reply was cut, with no member killed", rep.Homeserver, rep.Cut)
		}
		// The yardstick itself: a run that timed the floor's messages
		// timed their answers too (bursts time their own, not answers),
		// and one bot's stage medians are its log's, exact, not the
		// histogram's doubling buckets.
		if !cfg.Burst && rep.Floor.N > 0 && rep.RelayFloor.N == 0 {
			t.Errorf("%s: the floor timed %d messages and none of their answers: no relay floor", rep.Homeserver, rep.Floor.N)
		}
		if rep.Members == 0 && rep.StagesFrom != "log" {
			t.Errorf("%s: one bot's stage medians came from %q, want its log's", rep.Homeserver, rep.StagesFrom)
		}
	}
	return reps
}

// A crowd the bot does not onboard (it declines their invites, as for a
// server it does not serve) fails the run once the onboarding timeout has
// passed, naming a user, instead of holding it up for good.
func TestOnboardingThatNeverEndsFailsTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Dendrite, the agent and the bot; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ctx = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel).WithContext(ctx)
	_, err := load.Run(ctx, load.Config{Users: 2, Rooms: 1, Turns: 1, OnboardTimeout: 10 * time.Second,
		BotEnv: []string{"SURFACES_MATRIX_ALLOWED_SERVERS=other.test.invalid"}})
	if err == nil || !strings.Contains(err.Error(), "was not onboarded within 10s") || !strings.Contains(err.Error(), "load") {
		t.Fatalf("the run ended with %v, want the onboarding timeout naming a user", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the run outlived its own onboarding timeout by minutes")
	}
}
