package harness

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/agents/refagent"
)

// StackOptions configure StartStack. The zero value is a good default.
type StackOptions struct {
	// Dir holds everything the stack writes; empty makes a temp dir that
	// Close removes.
	Dir string
	// Dendrite are prebuilt binaries; zero builds them (cached).
	Dendrite Binaries
	// SurfacesBin is a prebuilt bot binary; empty builds ./cmd/surfaces.
	SurfacesBin string
	// Users are localparts registered as people and mapped in the registry,
	// to agent-0 unless UserAgents says otherwise; StartStack returns their
	// passwords in Stack.Passwords.
	Users []string
	// UserAgents maps some of Users to another agent id ("agent-1"...).
	UserAgents map[string]string
	// Unmapped are localparts registered as people but left out of the
	// registry's user_agents.
	Unmapped []string
	// Agents is how many reference agents to serve (agent-0, agent-1, ...);
	// zero means one.
	Agents int
	// Agent tunes the reference agent (echo mode); Agents and Mode are set
	// by StartStack.
	Agent refagent.Config
	// BotEnv are extra environment entries for the bot (later entries win).
	BotEnv []string
	// HomeserverRateLimited turns Dendrite's rate limiting on (Options.RateLimited).
	HomeserverRateLimited bool
	// HomeserverDatabase runs Dendrite on this PostgreSQL database
	// (Options.Database) instead of SQLite.
	HomeserverDatabase string
	// HomeserverMaxOpenConns is Options.MaxOpenConns.
	HomeserverMaxOpenConns int
	// Appservice runs the bot in appservice mode: the bot's own `surfaces
	// appservice register` writes the registration and Dendrite loads it
	// as it is.
	Appservice bool
	// KeysPushed, with Appservice, has the bot take its to-device events,
	// device lists and key counts from the transactions only
	// (matrix.appservice.to_device: push), and a relay in the harness push
	// them as a homeserver with MSC2409 and MSC3202 would: Dendrite does
	// not (keyrelay.go).
	KeysPushed bool
}

// Stack is a whole Surfaces deployment on loopback: a Dendrite, the
// reference agent (in this process, so tests can see what it received) and
// the bot binary, configured only through the environment, as an operator
// would.
type Stack struct {
	HS        *Homeserver
	Agent     *refagent.Server
	AgentURL  string
	BotID     id.UserID
	Passwords map[string]string

	Bot     *Process
	BotLogs []string // log paths of every bot run, oldest first

	dir, botBin, httpAddr string
	registration          string
	env                   []string
	registry              string
	agentsBlock           string
	ownDir                bool
	stopAgent             context.CancelFunc
	// agentCfg and agentAddr let StartAgent bring the agent back where it was.
	agentCfg  refagent.Config
	agentAddr string
	agentDone chan struct{}
	// pg is the homeserver's own PostgreSQL server (HomeserverDBEnv).
	pg *Postgres
	// relay pushes the bot's keys (StackOptions.KeysPushed).
	relay *keyRelay
}

// HomeserverDBEnv, set to "postgres", runs every stack's Dendrite on a
// PostgreSQL server of its own (Debian's package) instead of SQLite, unless
// the test chose a database. `.ci/run` sets it: Dendrite on SQLite, under
// the write contention of a busy machine, refuses writes ("database is
// locked (517)") and at times panics on one (its roomserver output log),
// which ends the test however the bot behaves. The README's go-only command
// leaves it unset and runs on SQLite.
const HomeserverDBEnv = "SURFACES_TEST_HOMESERVER_DB"

// startPostgres returns the DSN of a database for Dendrite: on the server
// the package's tests share (Main), else on a server of the stack's own,
// closed by Close.
func (s *Stack) startPostgres(ctx context.Context) (string, error) {
	binDir, err := PostgresBinDir()
	if err != nil {
		return "", fmt.Errorf("%s=postgres: %w", HomeserverDBEnv, err)
	}
	if shared.enabled.Load() {
		return homeserverDatabase(ctx, binDir)
	}
	if s.pg, err = StartPostgres(ctx, binDir); err != nil {
		return "", err
	}
	return s.pg.CreateDatabase(ctx, "dendrite")
}

const botPassword = "surfaces-bot-password"

// StartStack starts the homeserver and the agent, registers the bot and the
// users, writes the agent registry, and builds the bot. The bot itself is
// started with StartBot.
func StartStack(ctx context.Context, opts StackOptions) (_ *Stack, err error) {
	s := &Stack{dir: opts.Dir, Passwords: map[string]string{}}
	if s.dir == "" {
		if s.dir, err = os.MkdirTemp("", "surfaces-stack-"); err != nil {
			return nil, fmt.Errorf("failed to make the stack dir: %w", err)
		}
		s.ownDir = true
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close())
		}
	}()
	bins := opts.Dendrite
	if !bins.complete() {
		if bins, err = BuildDendrite(ctx); err != nil {
			return nil, err
		}
	}
	s.botBin = opts.SurfacesBin
	if s.botBin == "" {
		s.botBin = filepath.Join(s.dir, "surfaces")
		if err := BuildBinary(ctx, "./cmd/surfaces", s.botBin, "goolm"); err != nil {
			return nil, err
		}
	}
	if opts.HomeserverDatabase == "" && os.Getenv(HomeserverDBEnv) == "postgres" {
		if opts.HomeserverDatabase, err = s.startPostgres(ctx); err != nil {
			return nil, err
		}
	}
	hsOpts := Options{Binaries: bins, RateLimited: opts.HomeserverRateLimited, Database: opts.HomeserverDatabase,
		MaxOpenConns: opts.HomeserverMaxOpenConns}
	var asEnv []string
	if opts.Appservice {
		if asEnv, err = s.register(ctx, opts.KeysPushed); err != nil {
			return nil, err
		}
		hsOpts.Appservices = []string{s.registration}
	}
	if s.HS, err = StartHomeserver(ctx, hsOpts); err != nil {
		return nil, err
	}
	if opts.Appservice {
		// Dendrite makes the appservice's user from the registration.
		s.BotID = id.NewUserID("surfaces", s.HS.ServerName())
		if opts.KeysPushed {
			if s.relay, err = startKeyRelay(ctx, s.HS.URL(), s.BotID, s.registration); err != nil {
				return nil, err
			}
		}
	} else if s.BotID, err = s.HS.RegisterUser(ctx, "surfaces", botPassword, false); err != nil {
		return nil, err
	}

	nAgents := max(opts.Agents, 1)
	agentCfg := opts.Agent
	agentCfg.Mode = refagent.ModeEcho
	agentCfg.Agents = nil
	workspaces := make([]string, nAgents)
	for i := range nAgents {
		workspaces[i] = filepath.Join(s.dir, "agents", fmt.Sprint(i))
		if err := os.MkdirAll(workspaces[i], 0o755); err != nil {
			return nil, fmt.Errorf("failed to make the agent workspace: %w", err)
		}
		agentCfg.Agents = append(agentCfg.Agents, refagent.Agent{ID: fmt.Sprintf("agent-%d", i), Workspace: workspaces[i]})
	}
	if s.Agent, err = refagent.New(agentCfg); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("failed to listen for the agent: %w", err)
	}
	s.AgentURL = "http://" + ln.Addr().String() + "/agent_0/"
	s.agentCfg, s.agentAddr = agentCfg, ln.Addr().String()
	s.serveAgent(ctx, ln)
	s.agentsBlock = "agents:\n"
	for i := range nAgents {
		label := "Echo agent"
		if i > 0 {
			label = fmt.Sprintf("Echo agent %d", i)
		}
		s.agentsBlock += fmt.Sprintf("  - id: agent-%d\n    label: %q\n    base_url: %q\n    workspace_path: %q\n",
			i, label, fmt.Sprintf("http://%s/agent_%d/", ln.Addr(), i), workspaces[i])
	}

	mapping := map[string]string{}
	for _, u := range append(slices.Clone(opts.Users), opts.Unmapped...) {
		pw := "pw-" + u + "-12345678"
		if _, err := s.HS.RegisterUser(ctx, u, pw, false); err != nil {
			return nil, err
		}
		s.Passwords[u] = pw
	}
	for _, u := range opts.Users {
		mapping[u] = "agent-0"
		if a, ok := opts.UserAgents[u]; ok {
			mapping[u] = a
		}
	}
	s.registry = filepath.Join(s.dir, "matrix-agents.yaml")
	if err := s.WriteRegistry(mapping); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s.httpAddr = fmt.Sprintf("127.0.0.1:%d", port)
	s.env = append([]string{
		"MATRIX_HOMESERVER=" + s.HS.URL(),
		"MATRIX_USER_ID=" + s.BotID.String(),
		"MATRIX_PASSWORD=" + botPassword,
		"MATRIX_AGENT_REGISTRY_PATH=" + s.registry,
		"SURFACES_WORKSPACE_DIR=" + filepath.Join(s.dir, "agents"),
		"SURFACES_STATE_PATH=" + filepath.Join(s.dir, "state"),
		"SURFACES_HTTP_LISTEN=" + s.httpAddr,
		"SURFACES_LOG_FORMAT=json",
		"SURFACES_LOG_LEVEL=debug",
		"SURFACES_MATRIX_PICKLE_KEY=" + botPickleKey,
	}, append(asEnv, opts.BotEnv...)...)
	return s, nil
}

// register writes the bot's appservice registration with the bot's own
// command, on a free port for its appservice API, and returns the bot's
// settings for appservice mode (with keysPushed, to_device: push, which
// also asks the homeserver for them in the registration).
func (s *Stack) register(ctx context.Context, keysPushed bool) ([]string, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s.registration = filepath.Join(s.dir, "registration.yaml")
	env := []string{
		"SURFACES_MATRIX_MODE=appservice",
		"SURFACES_MATRIX_APPSERVICE_REGISTRATION=" + s.registration,
		fmt.Sprintf("SURFACES_MATRIX_APPSERVICE_LISTEN=127.0.0.1:%d", port),
	}
	if keysPushed {
		env = append(env, "SURFACES_MATRIX_APPSERVICE_TO_DEVICE=push")
	}
	cmd := exec.CommandContext(ctx, s.botBin, "appservice", "register")
	// The homeserver is not up yet: register needs only the bot's id and
	// a configuration that loads.
	cmd.Env = append(os.Environ(), append([]string{
		"MATRIX_HOMESERVER=http://127.0.0.1:1",
		"MATRIX_USER_ID=@surfaces:localhost",
		"MATRIX_AGENT_REGISTRY_PATH=" + filepath.Join(s.dir, "matrix-agents.yaml"),
		"SURFACES_WORKSPACE_DIR=" + filepath.Join(s.dir, "agents"),
		"SURFACES_MATRIX_PICKLE_KEY=" + botPickleKey,
	}, env...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("surfaces appservice register failed: %w\n%s", err, out)
	}
	return env, nil
}

// KeysRelayed is how many to-device events the harness pushed to the bot
// in transactions (StackOptions.KeysPushed).
func (s *Stack) KeysRelayed() int64 {
	if s.relay == nil {
		return 0
	}
	return s.relay.pushed.Load()
}

// Registration is the bot's appservice registration file (appservice mode).
func (s *Stack) Registration() string { return s.registration }

// botPickleKey encrypts the test bot's keys at rest.
const botPickleKey = "surfaces-test-pickle-key"

var readyLine = regexp.MustCompile(`"message":"ready: synced and reconciled"`)

// StartBot starts the bot binary and waits until it logged that it is
// ready (logged in, first sync processed, start-up reconciliation done).
func (s *Stack) StartBot(ctx context.Context) error {
	if s.Bot != nil {
		return errors.New("the bot is already running")
	}
	logPath := filepath.Join(s.dir, fmt.Sprintf("surfaces-%d.log", len(s.BotLogs)+1))
	p, err := StartProcess(ctx, s.botBin, []string{"run"}, s.env, logPath)
	if err != nil {
		return err
	}
	s.Bot = p
	s.BotLogs = append(s.BotLogs, logPath)
	// Bounded: a bot that cannot reach the homeserver retries its sync for
	// ever, and a test should fail, not hang, when that happens.
	ready, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := p.WaitForLine(ready, readyLine); err != nil {
		return fmt.Errorf("the bot did not become ready: %w\n%s", err, p.LogTail(30))
	}
	return nil
}

// StopBot stops the bot (SIGTERM, then kill after a grace period).
func (s *Stack) StopBot() error {
	if s.Bot == nil {
		return nil
	}
	err := s.Bot.StopWithGrace(15 * time.Second)
	s.Bot = nil
	return err
}

// KillBot ends the bot with SIGKILL, as a crash would.
func (s *Stack) KillBot() error {
	if s.Bot == nil {
		return nil
	}
	err := s.Bot.Kill()
	s.Bot = nil
	return err
}

// HTTPAddr is where the bot serves /healthz and /readyz.
func (s *Stack) HTTPAddr() string { return s.httpAddr }

// Login logs a registered user in and returns a syncing client.
func (s *Stack) Login(ctx context.Context, localpart string, options ...ClientOption) (*UserClient, error) {
	pw, ok := s.Passwords[localpart]
	if !ok {
		return nil, fmt.Errorf("user %q was not registered by the stack", localpart)
	}
	cli, err := s.HS.Login(ctx, id.NewUserID(localpart, s.HS.ServerName()), pw)
	if err != nil {
		return nil, err
	}
	return NewUserClient(ctx, cli, options...)
}

// Keep makes Close leave the stack's and the homeserver's directories (the
// bot's logs, state and Dendrite's log) for a look after a failed test.
// It returns the two directories.
func (s *Stack) Keep() (stackDir, homeserverDir string) {
	s.ownDir = false
	if s.HS != nil {
		s.HS.keepDir = true
		homeserverDir = s.HS.dir
	}
	return s.dir, homeserverDir
}

// Close stops everything the stack started and removes its dir if it made it.
// It returns an error when the homeserver crashed during the run (its
// directory and log are then kept, see Homeserver.Close).
func (s *Stack) Close() error {
	var err error
	_ = s.StopBot()
	if s.relay != nil {
		s.relay.close()
	}
	if s.Agent != nil {
		s.Agent.Close()
	}
	if s.stopAgent != nil {
		s.stopAgent()
	}
	if s.HS != nil {
		err = s.HS.Close()
	}
	if s.pg != nil {
		err = errors.Join(err, s.pg.Close())
	}
	if s.ownDir {
		_ = os.RemoveAll(s.dir)
	}
	return err
}

// BotEnv is a copy of the environment the bot is started with.
func (s *Stack) BotEnv() []string { return append([]string(nil), s.env...) }

// SetBotEnv adds settings (NAME=value) to the bot's environment from the
// next StartBot on; a later setting of a name wins.
func (s *Stack) SetBotEnv(kv ...string) { s.env = append(s.env, kv...) }

// BotBinary is the path of the built bot.
func (s *Stack) BotBinary() string { return s.botBin }

// Dir is the stack's working directory.
func (s *Stack) Dir() string { return s.dir }

// WriteRegistry rewrites the agent registry with mapping (localpart → agent
// id) and the stack's agents, the way an operator's editor does: a new file
// renamed over the old one. The bot applies it without a restart.
func (s *Stack) WriteRegistry(mapping map[string]string) error {
	content := "user_agents: {}\n"
	if len(mapping) > 0 {
		content = "user_agents:\n"
		for _, u := range slices.Sorted(maps.Keys(mapping)) {
			content += fmt.Sprintf("  %q: %s\n", id.NewUserID(u, s.HS.ServerName()).String(), mapping[u])
		}
	}
	content += s.agentsBlock
	tmp := s.registry + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return fmt.Errorf("failed to write the registry: %w", err)
	}
	if err := os.Rename(tmp, s.registry); err != nil {
		return fmt.Errorf("failed to replace the registry: %w", err)
	}
	return nil
}

// RegistryPath is the agent registry file the bot watches.
func (s *Stack) RegistryPath() string { return s.registry }
