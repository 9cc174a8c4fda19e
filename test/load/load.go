package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// Config is one load run.
type Config struct {
	// Users, Rooms (chats per user) and Turns (messages per chat).
	Users, Rooms, Turns int
	// Pace is the pause between a user's messages in one chat, after the
	// reply to the previous one came.
	Pace time.Duration
	// Stream is how long each reply streams (the reference agent's /slow,
	// a chunk every 500 ms); 0 is an instant echo.
	Stream time.Duration
	// BotEnv are extra settings for the bot (SURFACES_…=value).
	BotEnv []string
	// BotBinary is a prebuilt bot to run instead of building ./cmd/surfaces
	// (another version, to compare).
	BotBinary string
	// Progress, when set, gets a progress bar.
	Progress io.Writer
	// ReplyTimeout bounds the wait for one reply (default 2 minutes, 6 in
	// a cluster run).
	ReplyTimeout time.Duration
	// OnboardTimeout bounds the crowd's onboarding, from the first log-in
	// to the last user's last welcome (default 2 minutes and a second a
	// chat): a user the bot never gives a Space fails the run, naming
	// them, instead of holding it up for good.
	OnboardTimeout time.Duration
	// Postgres runs Dendrite on a PostgreSQL server of the run's own
	// (Debian's package) instead of SQLite, whose single writer would
	// otherwise hide or inflate the bot's share under load.
	Postgres bool
	// Burst makes each turn a burst: every user sends a message in each of
	// their chats at once, and the report gives the last first reply of
	// each burst against the same burst between two users (burst.go).
	Burst bool
	// Appservice runs the bot as an application service
	// (harness.StackOptions.Appservice); HomeserverRateLimited turns
	// Dendrite's rate limiting on.
	Appservice, HomeserverRateLimited bool
	// BothModes (RunBothModes) runs the load twice on one homeserver, the
	// bot syncing first, then as an application service.
	BothModes bool
	// Members, when 2 or more, runs the bot as that many members of one
	// cluster on a PostgreSQL state database, killing and adding members
	// while the replies stream (cluster.go); it needs PostgreSQL, and
	// Stream, and puts Dendrite on PostgreSQL too.
	Members int
	// Grains, in a cluster run, spreads the rooms over the members
	// (cluster.grains), and the chaos changes (cluster.go): turn 1 kills a
	// member that is not the ingress holder, turn 2 the holder, turn 3
	// adds a member, whose rooms move to it. It needs Turns of 4 or more.
	Grains bool
}

// chunkEvery is the reference agent's pause between streamed chunks.
const chunkEvery = 500 * time.Millisecond

// Turn is one message and what its user saw of the reply.
type Turn struct {
	User, Room, Text string
	// FirstVisible is from sending the message to seeing the reply's first
	// message; Complete to seeing its final text. 0 when it never came.
	FirstVisible, Complete time.Duration
	// Edits of the reply; Replies is 1 when the complete reply came.
	Edits, Replies int
	// Cut is set when the user was told the reply was cut instead (a
	// cluster run's kill), ToldCut how long after the kill the user saw
	// the notice, CutStamped how long after it the homeserver stamped it
	// (its origin_server_ts): the difference is the users' sync lag.
	Cut                 bool
	ToldCut, CutStamped time.Duration
	// CutAsked: the room's holder asked the homeserver whether the reply
	// had ended before it told the user (the members' logs): the turn was
	// caught ending with a new message, whose landing only a read can show.
	CutAsked bool
	// want is the reply's final text; sent when the message was sent.
	want string
	sent time.Time
}

// Run starts the stack, runs the load and returns its report. It stops
// everything it started.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.BothModes {
		return nil, errors.New("Config.BothModes is RunBothModes' setting")
	}
	if cfg.Grains && (cfg.Members < 2 || cfg.Turns < 4) {
		return nil, errors.New("a run with grains needs -members of 2 or more and -turns of 4 or more")
	}
	if cfg.Members > 1 && (cfg.Stream <= 0 || cfg.Burst || cfg.Appservice) {
		return nil, errors.New("a cluster run needs replies that stream, and neither bursts nor an application service")
	}
	st, err := start(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if err := st.stack.StartBot(ctx); err != nil {
		return nil, err
	}
	if cfg.Members > 1 {
		if st.cluster, err = startCluster(ctx, st.stack, cfg.Members, cfg.Grains); err != nil {
			return nil, err
		}
	}
	return drive(ctx, cfg, st)
}

// RunBothModes runs the load twice on one homeserver, with its rate
// limiting as cfg says, and returns the two reports: first the bot
// syncing, as a user of its own (Dendrite makes the appservice's user,
// which does not log in), then the bot as an application service, each
// with a state directory of its own. The same users onboard with each.
func RunBothModes(ctx context.Context, cfg Config) ([]*Report, error) {
	cfg.BothModes, cfg.Appservice = false, true
	st, err := start(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	stack := st.stack
	asBot := stack.BotID
	const clientBot, clientPassword = "loadbot", "pw-loadbot-12345678"
	syncing, err := stack.HS.RegisterUser(ctx, clientBot, clientPassword, false)
	if err != nil {
		return nil, err
	}
	env := stack.BotEnv()
	dir := filepath.Dir(stateDir(env))
	var reports []*Report
	for _, mode := range []struct {
		appservice bool
		bot        id.UserID
		env        []string
	}{
		{false, syncing, []string{"SURFACES_MATRIX_MODE=client", "MATRIX_USER_ID=" + syncing.String(),
			"MATRIX_PASSWORD=" + clientPassword, "SURFACES_STATE_PATH=" + filepath.Join(dir, "state-syncing")}},
		{true, asBot, []string{"SURFACES_MATRIX_MODE=appservice", "MATRIX_USER_ID=" + asBot.String(),
			"SURFACES_STATE_PATH=" + filepath.Join(dir, "state-appservice")}},
	} {
		stack.SetBotEnv(mode.env...)
		stack.BotID = mode.bot
		if err := stack.StartBot(ctx); err != nil {
			return nil, err
		}
		c := cfg
		c.Appservice = mode.appservice
		rep, err := drive(ctx, c, st)
		if err != nil {
			return nil, err
		}
		reports = append(reports, rep)
		if err := stack.StopBot(); err != nil {
			return nil, fmt.Errorf("failed to stop the bot between the modes: %w", err)
		}
	}
	return reports, nil
}

// stateDir is the bot's state directory in env (the last setting wins).
func stateDir(env []string) string {
	dir := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "SURFACES_STATE_PATH="); ok {
			dir = v
		}
	}
	return dir
}

// started is what start started, which its Close stops.
type started struct {
	stack *harness.Stack
	// db is Dendrite's PostgreSQL server, nil on SQLite.
	db *harness.Postgres
	// users are the load's users' localparts.
	users []string
	// cluster is the bot's members in a cluster run, nil otherwise.
	cluster *cluster
}

// Close stops the members, the stack, then the database under them.
func (s *started) Close() {
	if s.cluster != nil {
		s.cluster.close()
	}
	s.stack.Close()
	if s.db != nil {
		s.db.Close()
	}
}

// start checks cfg, fills its defaults and starts the stack (and
// Dendrite's PostgreSQL server), but not the bot.
func start(ctx context.Context, cfg *Config) (_ *started, err error) {
	if cfg.Users < 1 || cfg.Rooms < 1 || cfg.Turns < 1 {
		return nil, errors.New("users, rooms and turns must be at least 1")
	}
	if cfg.ReplyTimeout <= 0 {
		cfg.ReplyTimeout = 2 * time.Minute
		if cfg.Members > 1 {
			// After a kill, a turn's answer waits for the takeover, the
			// cut check (up to 3 minutes on a loaded homeserver) and the
			// users' lagging sync: late, not lost.
			cfg.ReplyTimeout = 6 * time.Minute
		}
	}
	if cfg.OnboardTimeout <= 0 {
		cfg.OnboardTimeout = 2*time.Minute + time.Duration(cfg.Users*cfg.Rooms)*time.Second
	}
	users := make([]string, cfg.Users)
	for i := range users {
		users[i] = fmt.Sprintf("load%d", i)
	}
	opts := harness.StackOptions{
		Users: append(slices.Clone(users), "floora", "floorb"),
		BotEnv: append([]string{
			// The driver types faster than people: the per-user limit is not
			// what is measured, and a user's chats must all fit.
			"SURFACES_RATE_LIMIT_RATE=1000", "SURFACES_RATE_LIMIT_BURST=1000",
			fmt.Sprintf("SURFACES_QUOTA_MAX_CHATS=%d", cfg.Rooms+1),
		}, cfg.BotEnv...),
	}
	opts.Agent.SlowDelay = chunkEvery
	opts.SurfacesBin = cfg.BotBinary
	opts.Appservice, opts.HomeserverRateLimited = cfg.Appservice, cfg.HomeserverRateLimited
	// Under .ci/run every test homeserver is on PostgreSQL
	// (harness.HomeserverDBEnv); the driver then starts it itself, so that
	// the report says so and counts its CPU.
	if os.Getenv(harness.HomeserverDBEnv) == "postgres" || cfg.Members > 1 {
		cfg.Postgres = true
	}
	var db *harness.Postgres
	if cfg.Postgres {
		binDir, err := harness.PostgresBinDir()
		if err != nil {
			return nil, err
		}
		// Dendrite's sync API needs about two connections a syncing client
		// (harness.Options.MaxOpenConns): the users, the floor's two and
		// the bot.
		conns := max(90, 2*(cfg.Users+3)+30)
		opts.HomeserverMaxOpenConns = conns
		if db, err = harness.StartPostgresWith(ctx, binDir, harness.PostgresOptions{MaxConnections: max(300, conns+50)}); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				db.Close()
			}
		}()
		if opts.HomeserverDatabase, err = db.CreateDatabase(ctx, "dendrite"); err != nil {
			return nil, err
		}
		if cfg.Members > 1 {
			dsn, err := db.CreateDatabase(ctx, "surfaces")
			if err != nil {
				return nil, err
			}
			opts.BotEnv = append(opts.BotEnv, clusterEnv(dsn, cfg.Grains)...)
		}
	}
	stack, err := harness.StartStack(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &started{stack: stack, db: db, users: users}, nil
}

// drive runs the load against the running bot: the crowd onboards at
// once, then talks (or bursts) beside the floor; it returns the report.
func drive(ctx context.Context, cfg Config, st *started) (*Report, error) {
	stack, db, users := st.stack, st.db, st.users
	r := &run{cfg: cfg, stack: stack, db: db, cluster: st.cluster, progress: newProgress(cfg.Progress, cfg.Users*cfg.Rooms*cfg.Turns)}

	// Everyone logs in and onboards at once, as a crowd would.
	clients := make([]*harness.UserClient, cfg.Users)
	chats := make([][]id.RoomID, cfg.Users)
	defer func() {
		for _, u := range clients {
			if u != nil {
				_ = u.Close()
			}
		}
	}()
	onboarding, stopOnboarding := context.WithTimeout(ctx, cfg.OnboardTimeout)
	onboardStart := time.Now()
	onboarded := make([]time.Duration, cfg.Users)
	err := r.each(onboarding, cfg.Users, func(ctx context.Context, i int) error {
		u, err := stack.Login(ctx, users[i])
		if err != nil {
			return err
		}
		clients[i] = u
		u.AcceptInvites(true)
		chats[i], err = onboard(ctx, stack.BotID, u, cfg.Rooms)
		if err != nil && onboarding.Err() != nil {
			return fmt.Errorf("%s was not onboarded within %v: %w", users[i], cfg.OnboardTimeout, err)
		}
		onboarded[i] = time.Since(onboardStart)
		return err
	})
	stopOnboarding()
	r.onboarded = onboarded
	if err != nil {
		return nil, err
	}
	floor, err := newFloor(ctx, stack)
	if err != nil {
		return nil, err
	}
	defer floor.close()

	r.logsFrom = markLogs(stack.BotLogs)
	before, err := r.sample()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	switch {
	case cfg.Burst:
		if err = floor.addRooms(ctx, cfg.Rooms); err == nil {
			err = r.bursts(ctx, clients, users, chats, floor)
		}
	case r.cluster != nil:
		floorCtx, stopFloor := context.WithCancel(ctx)
		floorDone := make(chan struct{})
		go func() { defer close(floorDone); floor.run(floorCtx, max(cfg.Pace, 200*time.Millisecond)) }()
		err = r.waves(ctx, clients, users, chats)
		stopFloor()
		<-floorDone
	default:
		floorCtx, stopFloor := context.WithCancel(ctx)
		floorDone := make(chan struct{})
		go func() { defer close(floorDone); floor.run(floorCtx, max(cfg.Pace, 200*time.Millisecond)) }()
		err = r.each(ctx, cfg.Users*cfg.Rooms, func(ctx context.Context, n int) error {
			i, j := n/cfg.Rooms, n%cfg.Rooms
			return r.talk(ctx, clients[i], users[i], chats[i][j], j)
		})
		stopFloor()
		<-floorDone
	}
	elapsed := time.Since(start)
	r.progress.finish()
	if err != nil {
		return nil, err
	}
	after, err := r.sample()
	if err != nil {
		return nil, err
	}
	// A reply is doubled when a chat holds more complete replies than
	// turns that got one.
	doubled := 0
	for i, u := range clients {
		for _, room := range chats[i] {
			replied, wants := r.repliesIn(room)
			extra := max(0, countReplies(u, stack.BotID, room, wants)-replied)
			doubled += extra
			if (extra > 0 || r.lostIn(room) > 0) && len(r.missed) < 3 {
				r.missed = append(r.missed, r.describe(u, stack.BotID, room))
			}
			// Each cut turn is told once, and no other.
			told := countCutNotices(u, stack.BotID, room)
			r.cutNotices += told
			if told != r.cutIn(room) {
				r.roomsToldWrong++
				if len(r.toldWrong) < 3 {
					r.toldWrong = append(r.toldWrong, r.describe(u, stack.BotID, room))
				}
			}
		}
	}
	return r.report(elapsed, before, after, floor.latencies(), floor.relayed(), doubled), nil
}

// run is the state of one load run.
type run struct {
	cfg Config
	// logsFrom is where the bot's logs ended as the run began.
	logsFrom logMark
	stack    *harness.Stack
	db       *harness.Postgres // nil on SQLite
	cluster  *cluster          // nil unless Config.Members
	progress *progress
	// onboarded is when each user had their chats, from the crowd's start.
	onboarded []time.Duration
	// cutNotices counts the notices of a cut reply after the run;
	// roomsToldWrong the rooms where they are not one a cut turn.
	cutNotices, roomsToldWrong int
	// toldWrong describes the first such rooms, for a closer look.
	toldWrong []string
	// missed describes the first rooms with a turn lost or a reply
	// doubled.
	missed []string

	mu    sync.Mutex
	turns []Turn
	// burstLast and floorBursts are the bursts' times (Config.Burst): each
	// user's last first reply of a bot burst; each floor burst's last
	// message.
	burstLast, floorBursts []time.Duration
	// relayBursts are the floor's bursts relayed (floor.burst).
	relayBursts []time.Duration
}

// each runs f for 0..n-1 at once and returns the first error: the first
// f's (which says who), else why ctx ended.
func (r *run) each(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i := range n {
		wg.Go(func() {
			if err := f(ctx, i); err != nil {
				once.Do(func() { first = err })
				cancel(err)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return context.Cause(ctx)
}

func (r *run) add(t Turn) {
	r.mu.Lock()
	r.turns = append(r.turns, t)
	r.mu.Unlock()
	r.progress.step()
}
