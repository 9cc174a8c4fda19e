package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surfaces-bot/surfaces/matrix"
)

const goodRegistry = `
user_agents:
  "@alice:hs.test": agent-0
agents:
  - id: agent-0
    label: "Agent 0"
    base_url: "http://127.0.0.1:7000/agent_0/"
    workspace_path: "/agents/0"
`

var noBaseURL = strings.Replace(goodRegistry, `    base_url: "http://127.0.0.1:7000/agent_0/"
`, "", 1)

// testEnv returns a complete environment for run, with the registry
// written to a temp file, and overrides applied.
func testEnv(t *testing.T, registry string, overrides ...string) []string {
	t.Helper()
	dir := t.TempDir()
	reg := filepath.Join(dir, "agents.yaml")
	if err := os.WriteFile(reg, []byte(registry), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"MATRIX_HOMESERVER=http://127.0.0.1:1",
		"MATRIX_USER_ID=@bot:hs.test",
		"MATRIX_PASSWORD=correct horse battery",
		"MATRIX_AGENT_REGISTRY_PATH=" + reg,
		"SURFACES_WORKSPACE_DIR=" + dir,
		"SURFACES_STATE_PATH=" + filepath.Join(dir, "state"),
		"SURFACES_HTTP_LISTEN=127.0.0.1:0",
		"SURFACES_LOG_FORMAT=json",
		"SURFACES_MATRIX_PICKLE_KEY=a-pickle-key-for-tests",
	}
	// An override replaces the variable of the same name; "NAME=" removes it.
	for _, o := range overrides {
		name, value, _ := strings.Cut(o, "=")
		env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, name+"=") })
		if value != "" {
			env = append(env, o)
		}
	}
	return env
}

func runCLI(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, env, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name     string
		registry string
		env      []string
		code     int
		stderr   string
	}{
		{"good", goodRegistry, nil, exitOK, ""},
		{"missing homeserver", goodRegistry, []string{"MATRIX_HOMESERVER="}, exitUsage, "matrix.homeserver"},
		{"placeholder password", goodRegistry, []string{"MATRIX_PASSWORD=CHANGE_ME"}, exitUsage, "matrix.password"},
		{"bad locale", goodRegistry, []string{"SURFACES_LOCALE=de"}, exitUsage, "locale"},
		{"duplicate agent ids", goodRegistry + `
  - id: agent-0
    base_url: "http://127.0.0.1:7000/agent_1/"
    workspace_path: "/agents/1"
`, nil, exitUsage, "duplicate"},
		{"mapping to a missing agent", strings.Replace(goodRegistry, `": agent-0`, `": agent-9`, 1), nil, exitUsage, "agent-9"},
		{"entry without base_url", noBaseURL, nil, exitUsage, "base_url is required"},
		{"entry without base_url, AGENT_BASE_URL set", noBaseURL, []string{"AGENT_BASE_URL=http://127.0.0.1:7000/agent_0/"}, exitOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(t, tc.registry, tc.env...)
			code, stdout, stderr := runCLI(t, env, "config", "validate")
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr)
			}
			if tc.stderr != "" && !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("stderr %q does not name %q", stderr, tc.stderr)
			}
			if tc.code == exitOK && !strings.Contains(stdout, "OK") {
				t.Fatalf("stdout %q", stdout)
			}
			if tc.code != exitOK && strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Fatalf("want one line, got:\n%s", stderr)
			}
		})
	}
}

func TestRunFailsClearlyWhenTheHomeserverIsUnreachable(t *testing.T) {
	// A port that was free a moment ago: nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := testEnv(t, goodRegistry, "MATRIX_HOMESERVER=http://"+addr)
	code, _, stderr := runCLI(t, env, "run")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitFailed, stderr)
	}
	if !strings.Contains(stderr, "unreachable") || !strings.Contains(stderr, addr) {
		t.Fatalf("stderr %q does not say the homeserver is unreachable", stderr)
	}
}

func TestRunRejectsBadConfigBeforeStarting(t *testing.T) {
	env := testEnv(t, goodRegistry, "MATRIX_USER_ID=not-a-user-id")
	code, _, stderr := runCLI(t, env, "run")
	if code != exitUsage || !strings.Contains(stderr, "matrix.user_id") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestVersionAndUsage(t *testing.T) {
	if code, out, _ := runCLI(t, nil, "version"); code != exitOK || !strings.HasPrefix(out, "surfaces ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, errOut := runCLI(t, nil, "frobnicate"); code != exitUsage || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("unknown: %d %q", code, errOut)
	}
	if code, _, _ := runCLI(t, nil); code != exitUsage {
		t.Fatalf("no args: %d", code)
	}
}

// /readyz waits for reconciliation, turns 503 once syncing has failed
// longer than unready_after and is ready again when syncs go through.
func TestReadyzFollowsSyncFailures(t *testing.T) {
	var failing time.Duration
	h := &health{unreadyAfter: 2 * time.Minute}
	h.loggedIn.Store(true)
	h.synced.Store(true)
	if h.ready() {
		t.Fatal("ready before reconciliation")
	}
	h.reconciled.Store(true)
	h.failingFor.Store(func() time.Duration { return failing })
	for _, tc := range []struct {
		failing time.Duration
		ready   bool
	}{{0, true}, {time.Minute, true}, {2 * time.Minute, false}, {0, true}} {
		failing = tc.failing
		if got := h.ready(); got != tc.ready {
			t.Fatalf("failing for %v: ready = %v, want %v", tc.failing, got, tc.ready)
		}
	}
	// Rooms whose record writes fail hold their events unacked: not ready.
	failingRooms := 1
	h.failingWrites.Store(func() int { return failingRooms })
	if h.ready() {
		t.Fatal("ready while a room's record writes are failing")
	}
	failingRooms = 0
	if !h.ready() {
		t.Fatal("not ready once the record writes land again")
	}
}

// surfaces_ready and surfaces_sync_failing_seconds say what /readyz says,
// for Prometheus (the alert SurfacesNotReady reads them).
func TestHealthGauges(t *testing.T) {
	var failing time.Duration
	h := &health{unreadyAfter: 2 * time.Minute}
	h.failingFor.Store(func() time.Duration { return failing })
	reg := prometheus.NewPedanticRegistry()
	for _, c := range h.collectors() {
		reg.MustRegister(c)
	}
	read := func() (ready, failingSeconds float64) {
		t.Helper()
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			switch f.GetName() {
			case "surfaces_ready":
				ready = f.GetMetric()[0].GetGauge().GetValue()
			case "surfaces_sync_failing_seconds":
				failingSeconds = f.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return ready, failingSeconds
	}
	if ready, _ := read(); ready != 0 {
		t.Fatalf("surfaces_ready = %v before the first sync, want 0", ready)
	}
	h.loggedIn.Store(true)
	h.synced.Store(true)
	h.reconciled.Store(true)
	for _, tc := range []struct {
		failing time.Duration
		ready   float64
	}{{0, 1}, {time.Minute, 1}, {3 * time.Minute, 0}, {0, 1}} {
		failing = tc.failing
		ready, seconds := read()
		if ready != tc.ready || seconds != tc.failing.Seconds() {
			t.Fatalf("syncing failing for %v: surfaces_ready = %v, surfaces_sync_failing_seconds = %v; want %v and %v",
				tc.failing, ready, seconds, tc.ready, tc.failing.Seconds())
		}
	}
}

// `surfaces appservice register` writes a registration for the configured
// bot that the bot then loads, refuses to replace one, and says why when
// it cannot tell the homeserver where the bot is.
func TestAppserviceRegister(t *testing.T) {
	out := filepath.Join(t.TempDir(), "registration.yaml")
	env := testEnv(t, goodRegistry)
	code, stdout, stderr := runCLI(t, env, "appservice", "register", "--url", "http://bot.internal:8090", "--out", out)
	if code != exitOK || !strings.Contains(stdout, "app_service_config_files") || !strings.Contains(stdout, "app_service_api") {
		t.Fatalf("register: %d %q %q", code, stdout, stderr)
	}
	reg, err := matrix.LoadRegistration(out)
	if err != nil {
		t.Fatal(err)
	}
	if reg.URL != "http://bot.internal:8090" || reg.SenderLocalpart != "bot" || reg.RateLimited || reg.MSC3202 || reg.MSC2409PushEphemeral {
		t.Fatalf("registration %+v", reg)
	}
	if strings.Contains(stdout, reg.ASToken) || strings.Contains(stdout, reg.HSToken) {
		t.Fatal("the tokens were printed")
	}
	if code, _, stderr := runCLI(t, env, "appservice", "register", "--url", "http://bot.internal:8090", "--out", out); code != exitFailed || !strings.Contains(stderr, "--force") {
		t.Fatalf("a second register over the file: %d %q, want a refusal naming --force", code, stderr)
	}
	if again, _ := matrix.LoadRegistration(out); again.ASToken != reg.ASToken {
		t.Fatal("the refused register replaced the tokens")
	}
	// The URL from matrix.appservice.listen, unless it names no host.
	defaultOut := filepath.Join(t.TempDir(), "r.yaml")
	if code, _, stderr := runCLI(t, append(env, "SURFACES_MATRIX_APPSERVICE_LISTEN=10.0.0.5:8090"), "appservice", "register", "--out", defaultOut); code != exitOK {
		t.Fatalf("register with the listen address: %d %q", code, stderr)
	} else if r, _ := matrix.LoadRegistration(defaultOut); r.URL != "http://10.0.0.5:8090" {
		t.Fatalf("url %q, want the listen address", r.URL)
	}
	if code, _, stderr := runCLI(t, append(env, "SURFACES_MATRIX_APPSERVICE_LISTEN=0.0.0.0:8090"), "appservice", "register", "--out", filepath.Join(t.TempDir(), "x.yaml")); code != exitUsage || !strings.Contains(stderr, "--url") {
		t.Fatalf("a wildcard listen address: %d %q, want to be asked for --url", code, stderr)
	}
	// With to_device: push it asks for the pushed keys and says what
	// Synapse needs for them.
	pushOut := filepath.Join(t.TempDir(), "push.yaml")
	code, stdout, stderr = runCLI(t, append(env, "SURFACES_MATRIX_APPSERVICE_TO_DEVICE=push"), "appservice", "register", "--url", "http://bot.internal:8090", "--out", pushOut)
	if code != exitOK || !strings.Contains(stdout, "msc3202_transaction_extensions") {
		t.Fatalf("register with to_device push: %d %q %q", code, stdout, stderr)
	}
	if r, _ := matrix.LoadRegistration(pushOut); !r.MSC3202 || !r.MSC2409PushEphemeral || !r.ReceiveEphemeral {
		t.Fatalf("registration with to_device push %+v: want MSC2409 and MSC3202 asked for", r)
	}
	// A device of its own (MSC4190) is asked for only with encryption on.
	for enc, want := range map[string]bool{"allowed": true, "off": false} {
		out := filepath.Join(t.TempDir(), enc+".yaml")
		if code, _, stderr := runCLI(t, append(env, "SURFACES_MATRIX_ENCRYPTION="+enc), "appservice", "register", "--url", "http://bot.internal:8090", "--out", out); code != exitOK {
			t.Fatalf("register with encryption %s: %d %q", enc, code, stderr)
		}
		if r, _ := matrix.LoadRegistration(out); r.MSC4190 != want {
			t.Fatalf("encryption %s: io.element.msc4190 %v, want %v", enc, r.MSC4190, want)
		}
	}
	if code, _, _ := runCLI(t, env, "appservice"); code != exitUsage {
		t.Fatalf("appservice without a verb: %d", code)
	}
}

// TestClusterRetireRefusesWhatItCannotDo: `cluster retire` names its
// member and needs the PostgreSQL store; each refusal is one line (the
// retirement itself: test/e2e TestClusterGrainsEncrypted).
func TestClusterRetireRefusesWhatItCannotDo(t *testing.T) {
	env := testEnv(t, goodRegistry)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no member", []string{"cluster", "retire"}, "name the member"},
		{"two members", []string{"cluster", "retire", "a", "b"}, `unexpected argument "b"`},
		{"Badger", []string{"cluster", "retire", "member-a"}, "needs persistence.backend: postgres"},
		{"Badger, the flag after the member", []string{"cluster", "retire", "member-a", "-config", ""}, "needs persistence.backend: postgres"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, env, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) || stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d and %q", code, stdout, stderr, exitUsage, tt.want)
			}
		})
	}
}
