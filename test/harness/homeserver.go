package harness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Options configure StartHomeserver. The zero value is a good default.
type Options struct {
	// Binaries are the Dendrite executables; zero means BuildDendrite(ctx).
	Binaries Binaries
	// ServerName is the Matrix server name (the part after ':' in user IDs);
	// default "localhost".
	ServerName string
	// LogLevel is Dendrite's log level (trace, debug, info, warn, error);
	// default "info", because "trace" writes megabytes per test.
	LogLevel string
	// MaxUploadBytes is the media repository's upload limit; default 100 MiB.
	MaxUploadBytes int64
	// KeepDir leaves the data directory in place after Close, for debugging.
	KeepDir bool
	// RateLimited turns Dendrite's client rate limiting on for everyone
	// (the -ci config turns it off): past 5 requests a user waits, cooling
	// off 500 ms, and gets 429s meanwhile.
	RateLimited bool
	// Database is a PostgreSQL connection URL for every component (see
	// StartPostgres); empty means SQLite files in the data directory.
	Database string
	// MaxOpenConns is Dendrite's database pool on PostgreSQL
	// (max_open_conns; default Dendrite's 90). Dendrite's sync API holds a
	// connection in a transaction while a /sync waits and takes a second
	// one to answer it, so more syncing clients than the pool deadlock the
	// homeserver: 200 users onboarding at once left 90 connections "idle in
	// transaction" and every join answered 202 after 20 s. Twice the
	// clients and some is enough.
	MaxOpenConns int
	// Appservices are application service registration files Dendrite
	// loads as they are (app_service_api.config_files).
	Appservices []string
}

func (o Options) withDefaults() Options {
	if o.ServerName == "" {
		o.ServerName = "localhost"
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = 100 << 20
	}
	return o
}

// Homeserver is a running Dendrite on 127.0.0.1 with its own data directory.
type Homeserver struct {
	url          string
	serverName   string
	dir          string
	configPath   string
	sharedSecret string
	keepDir      bool
	proc         *Process
	http         *http.Client
}

// startAttempts bounds retries when the free port is taken between FreePort
// and Dendrite binding it.
const startAttempts = 3

// StartHomeserver creates a temp directory, generates a signing key and a CI
// config, starts Dendrite on a free port of 127.0.0.1 and waits until the
// client API answers. ctx bounds the build (if needed) and the start; the
// server runs until Close.
func StartHomeserver(ctx context.Context, opts Options) (*Homeserver, error) {
	opts = opts.withDefaults()
	if strings.ContainsAny(opts.ServerName, " /:\n") {
		return nil, fmt.Errorf("failed to start Dendrite: invalid server name %q", opts.ServerName)
	}
	if opts.Binaries == (Binaries{}) {
		bins, err := BuildDendrite(ctx)
		if err != nil {
			return nil, err
		}
		opts.Binaries = bins
	}
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		hs, err := startOnce(ctx, opts)
		if err == nil {
			return hs, nil
		}
		lastErr = err
		if ctx.Err() != nil || !errors.Is(err, errExitedEarly) {
			break
		}
		zerolog.Ctx(ctx).Warn().Err(err).Int("attempt", attempt).Msg("Dendrite exited during start, retrying")
	}
	return nil, lastErr
}

// errExitedEarly marks a start that failed because Dendrite exited, typically
// because another process took the port; only that is worth a retry.
var errExitedEarly = errors.New("dendrite exited during start")

func startOnce(ctx context.Context, opts Options) (*Homeserver, error) {
	dir, err := os.MkdirTemp("", "surfaces-dendrite-*")
	if err != nil {
		return nil, fmt.Errorf("failed to create the Dendrite directory: %w", err)
	}
	hs := &Homeserver{
		serverName: opts.ServerName,
		dir:        dir,
		configPath: filepath.Join(dir, "dendrite.yaml"),
		keepDir:    opts.KeepDir,
		http:       &http.Client{Timeout: 30 * time.Second},
	}
	ok := false
	defer func() {
		if !ok {
			hs.Close()
		}
	}()
	if err := hs.writeConfig(ctx, opts); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	hs.url = "http://" + addr
	hs.proc, err = StartProcess(ctx, opts.Binaries.Dendrite, []string{
		"-config", hs.configPath,
		"-http-bind-address", addr,
		"-really-enable-open-registration",
	}, nil, filepath.Join(dir, "dendrite.log"))
	if err != nil {
		return nil, err
	}
	if err := hs.waitReady(ctx); err != nil {
		return nil, err
	}
	zerolog.Ctx(ctx).Info().Str("url", hs.url).Str("dir", dir).Msg("Dendrite is ready")
	ok = true
	return hs, nil
}

// writeConfig runs generate-keys and generate-config -ci in the data
// directory and applies configEdits.
func (hs *Homeserver) writeConfig(ctx context.Context, opts Options) error {
	keys := runIn(ctx, hs.dir, opts.Binaries.GenerateKeys, "--private-key", filepath.Join(hs.dir, "matrix_key.pem"))
	if _, err := keys.CombinedOutput(); err != nil {
		return fmt.Errorf("failed to generate the Dendrite signing key: %w", err)
	}
	args := []string{"-ci", "-dir", hs.dir, "-server", opts.ServerName}
	if opts.Database != "" {
		args = append(args, "-db", opts.Database)
	}
	gen := runIn(ctx, hs.dir, opts.Binaries.GenerateConfig, args...)
	out, err := gen.Output()
	if err != nil {
		return fmt.Errorf("failed to generate the Dendrite config: %w", err)
	}
	cfg, err := applyConfigEdits(string(out), configEdits(hs.dir, opts))
	if err != nil {
		return err
	}
	if opts.RateLimited {
		const off = "rate_limiting:\n    enabled: false"
		if !strings.Contains(cfg, off) {
			return errors.New("failed to edit the Dendrite config: no rate_limiting block to turn on")
		}
		cfg = strings.Replace(cfg, off, "rate_limiting:\n    enabled: true", 1)
	}
	if opts.Database != "" && opts.MaxOpenConns > 0 {
		if cfg, err = withMaxOpenConns(cfg, opts.MaxOpenConns); err != nil {
			return err
		}
	}
	if opts.Database != "" {
		if cfg, err = withMaxIdleConns(cfg, dendriteIdleConns); err != nil {
			return err
		}
	}
	if opts.Database == "" {
		var n int
		if cfg, n = sqliteWAL(cfg); n == 0 {
			return errors.New("failed to edit the Dendrite config: no SQLite connection_string to put in WAL mode")
		}
	}
	if hs.sharedSecret, err = configValue(cfg, "registration_shared_secret"); err != nil {
		return err
	}
	if hs.sharedSecret == "" {
		return errors.New("failed to read the Dendrite config: registration_shared_secret is empty")
	}
	if err := os.WriteFile(hs.configPath, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("failed to write the Dendrite config: %w", err)
	}
	return nil
}

// waitReady asks /_matrix/client/versions until it answers 200. Readiness of
// another process has no event to wait on, so this is the one place that
// polls, on a ticker, and it gives up at once if Dendrite exits.
func (hs *Homeserver) waitReady(ctx context.Context) error {
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		if hs.versionsAnswer(ctx) {
			return nil
		}
		select {
		case <-hs.proc.Done():
			return fmt.Errorf("%w (%v); last log lines:\n%s", errExitedEarly, hs.proc.ExitErr(), hs.proc.LogTail(30))
		case <-ctx.Done():
			return fmt.Errorf("failed to see Dendrite ready at %s: %w; last log lines:\n%s", hs.url, ctx.Err(), hs.proc.LogTail(30))
		case <-ticker.C:
		}
	}
}

func (hs *Homeserver) versionsAnswer(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hs.url+"/_matrix/client/versions", nil)
	if err != nil {
		return false
	}
	resp, err := hs.http.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Pid is the Dendrite process's id (for its CPU time).
func (hs *Homeserver) Pid() int { return hs.proc.Pid() }

// URL returns the client-server API base URL, e.g. http://127.0.0.1:40123.
func (hs *Homeserver) URL() string { return hs.url }

// ServerName returns the server name used in user and room IDs.
func (hs *Homeserver) ServerName() string { return hs.serverName }

// Dir returns the data directory (config, databases, media, log).
func (hs *Homeserver) Dir() string { return hs.dir }

// ConfigPath returns the dendrite.yaml the server runs with.
func (hs *Homeserver) ConfigPath() string { return hs.configPath }

// LogPath returns the file with Dendrite's stdout and stderr.
func (hs *Homeserver) LogPath() string { return filepath.Join(hs.dir, "dendrite.log") }

// LogTail returns the last n lines of Dendrite's log, for failure messages.
func (hs *Homeserver) LogTail(n int) string { return TailFile(hs.LogPath(), n) }

// Close stops Dendrite (SIGTERM, then SIGKILL after DefaultStopGrace) and
// removes its directory unless Options.KeepDir. It is safe to call twice.
//
// A Dendrite that exited by itself before Close, or whose log shows a Go
// panic, is a failure of the test world that must not vanish with the temp
// directory: Close then keeps the directory and returns an error naming its
// log.
func (hs *Homeserver) Close() error {
	var errs []error
	crashed := ""
	if hs.proc != nil {
		select {
		case <-hs.proc.Done():
			crashed = fmt.Sprintf("exited by itself (%v)", hs.proc.ExitErr())
		default:
		}
		// What Dendrite logs once it is told to stop is not the test's: on
		// PostgreSQL it can panic on a write its own shutdown cancelled
		// ("roomserver output log: write new event failure … context
		// canceled"), after the test saw all it checks.
		before := logSize(hs.LogPath())
		if err := hs.proc.Stop(); err != nil {
			errs = append(errs, err)
		}
		if crashed == "" && logHasPanic(hs.LogPath(), before) {
			crashed = "panicked"
		}
	}
	if crashed != "" {
		errs = append(errs, fmt.Errorf("dendrite %s during the test; its directory is kept, log %s:\n%s",
			crashed, hs.LogPath(), hs.LogTail(40)))
	} else if !hs.keepDir && hs.dir != "" {
		if err := os.RemoveAll(hs.dir); err != nil {
			errs = append(errs, fmt.Errorf("failed to remove %s: %w", hs.dir, err))
		}
	}
	return errors.Join(errs...)
}

// logHasPanic reports whether a Go panic was written to the first limit
// bytes of the log at path (all of it when limit < 0): a line starting
// "panic: " (the runtime's header) or Dendrite's own report of a recovered
// one.
func logHasPanic(path string, limit int64) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	if limit >= 0 && limit < int64(len(data)) {
		data = data[:limit]
	}
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "panic: ") || strings.Contains(line, "cannot start a transaction within a transaction") {
			return true
		}
	}
	return false
}

// logSize is the length of the file at path, -1 when it cannot be read.
func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// runIn prepares a short-lived helper command in dir, bound to ctx.
func runIn(ctx context.Context, dir, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	return cmd
}

// withMaxOpenConns sets the global database pool of a generated
// PostgreSQL config (generate-config writes Dendrite's default, 90).
func withMaxOpenConns(cfg string, n int) (string, error) {
	return withPoolSetting(cfg, "max_open_conns", 90, n)
}

// withPoolSetting replaces the generated "key: def" line of the global
// database pool with n; a config without that line is an error, so that a
// Dendrite whose defaults changed fails the tests loudly.
func withPoolSetting(cfg, key string, def, n int) (string, error) {
	line := key + ": " + strconv.Itoa(def) + "\n"
	if !strings.Contains(cfg, line) {
		return "", fmt.Errorf("failed to edit the Dendrite config: no %s to raise", key)
	}
	return strings.Replace(cfg, line, key+": "+strconv.Itoa(n)+"\n", 1), nil
}

// dendriteIdleConns is the idle connections Dendrite on PostgreSQL keeps
// (generate-config writes 2). With 2, every query beyond two at once opened
// a new connection and closed it after: a PostgreSQL backend started a
// query. On a machine where that is slow (system CPU at 45 %, both cores
// busy) ten users onboarding at once did not finish in 90 s; they take
// 15 s on SQLite. The e2e tests share one PostgreSQL (max_connections
// 300) among the Dendrites of the tests running at once.
const dendriteIdleConns = 40

// withMaxIdleConns sets the global database pool's idle connections of a
// generated PostgreSQL config.
func withMaxIdleConns(cfg string, n int) (string, error) {
	return withPoolSetting(cfg, "max_idle_conns", 2, n)
}
