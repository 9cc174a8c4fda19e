package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/surfaces-bot/surfaces/agents/refagent"
)

// opsAgents serves three agents on loopback and returns a registry naming
// them: agent-0 is the reference agent (echo), agent-1 a closed port,
// agent-2 accepts the WebSocket and never sends STATUS.
func opsAgents(t *testing.T) (registry string, ref *refagent.Server) {
	t.Helper()
	dir := t.TempDir()
	ref, err := refagent.New(refagent.Config{Mode: refagent.ModeEcho, Agents: []refagent.Agent{{ID: "agent-0", Workspace: dir}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = ref.Serve(ctx, ln)
	}()
	t.Cleanup(func() { stop(); <-served })

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := closed.Addr().String()
	_ = closed.Close()

	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		// Say nothing; read until the client gives up.
		for {
			if _, _, err := ws.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	t.Cleanup(silent.Close)

	registry = fmt.Sprintf(`user_agents: {}
agents:
  - id: agent-0
    base_url: "http://%s/agent_0/"
    workspace_path: %q
  - id: agent-1
    base_url: "http://%s/agent_1/"
    workspace_path: "/agents/1"
  - id: agent-2
    base_url: "%s/agent_2/"
    workspace_path: "/agents/2"
`, ln.Addr(), dir, down, silent.URL)
	return registry, ref
}

// tableRows parses check-agents' table into agent → fields (stage,
// latency, error words), checking the header and the summary line.
func tableRows(t *testing.T, out string, wantSummary string) map[string][]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 2 || strings.Join(strings.Fields(lines[0]), " ") != "AGENT STAGE LATENCY ERROR" {
		t.Fatalf("no table header:\n%s", out)
	}
	if summary := lines[len(lines)-1]; !strings.HasPrefix(summary, wantSummary) || !strings.Contains(summary, "probe chat id ") {
		t.Fatalf("summary %q, want %q and the probe chat id", summary, wantSummary)
	}
	rows := map[string][]string{}
	for _, l := range lines {
		if strings.TrimRight(l, " \t") != l {
			t.Errorf("trailing blanks on %q", l)
		}
	}
	for _, l := range lines[1 : len(lines)-1] {
		f := strings.Fields(l)
		if len(f) < 3 {
			t.Fatalf("short row %q in:\n%s", l, out)
		}
		rows[f[0]] = f[1:]
	}
	return rows
}

func TestCheckAgentsTable(t *testing.T) {
	registry, _ := opsAgents(t)
	env := testEnv(t, registry)

	code, stdout, stderr := runCLI(t, env, "check-agents", "--timeout", "1s")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d (two agents fail); stdout:\n%s\nstderr:\n%s", code, exitFailed, stdout, stderr)
	}
	rows := tableRows(t, stdout, "1 of 3 agents OK")
	for agent, want := range map[string]string{"agent-0": "ok", "agent-1": "connect", "agent-2": "status"} {
		row, ok := rows[agent]
		if !ok {
			t.Errorf("no row for %s:\n%s", agent, stdout)
			continue
		}
		if row[0] != want {
			t.Errorf("%s: stage %q, want %q:\n%s", agent, row[0], want, stdout)
		}
		if !strings.HasSuffix(row[1], "ms") && !strings.HasSuffix(row[1], "s") {
			t.Errorf("%s: latency %q", agent, row[1])
		}
		if hasErr := len(row) > 2; hasErr != (want != "ok") {
			t.Errorf("%s: error column %q; want one exactly when the agent failed", agent, row[2:])
		}
	}
	if !strings.Contains(stdout, "timed out after 1s in stage status") {
		t.Errorf("the silent agent's error does not say it timed out waiting for STATUS:\n%s", stdout)
	}

	code, stdout, stderr = runCLI(t, env, "check-agents", "--agent", "agent-0", "--message", "ping")
	if code != exitOK {
		t.Fatalf("one good agent with a turn: exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if rows := tableRows(t, stdout, "1 of 1 agent OK"); len(rows) != 1 || rows["agent-0"][0] != "ok" {
		t.Fatalf("rows %v:\n%s", rows, stdout)
	}
}

func TestCheckAgentsJSON(t *testing.T) {
	registry, ref := opsAgents(t)
	env := testEnv(t, registry)

	code, stdout, stderr := runCLI(t, env, "check-agents", "--json", "--message", "ping", "--timeout", "1s")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, exitFailed, stdout, stderr)
	}
	var out checkJSON
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if out.OK || out.Message != "ping" || len(out.Agents) != 3 {
		t.Fatalf("ok %v, message %q, %d agents:\n%s", out.OK, out.Message, len(out.Agents), stdout)
	}
	if id, err := strconv.ParseInt(out.ChatID, 10, 64); err != nil || id < 1e18 {
		t.Errorf("probe chat id %q: want a decimal far above real chat ids", out.ChatID)
	}
	for i, want := range []struct {
		agent, stage string
		ok           bool
	}{{"agent-0", "ok", true}, {"agent-1", "connect", false}, {"agent-2", "status", false}} {
		a := out.Agents[i]
		if a.Agent != want.agent || a.Stage != want.stage || a.OK != want.ok || (a.Error == "") != want.ok {
			t.Errorf("agents[%d] = %+v, want %s at stage %s, ok %v", i, a, want.agent, want.stage, want.ok)
		}
		if !strings.HasPrefix(a.URL, "ws://127.0.0.1:") || !strings.HasSuffix(a.URL, "/v1/agent_ws/"+out.ChatID+"/") {
			t.Errorf("%s: url %q is not the bot's endpoint for the probe's chat id", a.Agent, a.URL)
		}
		if a.TotalMS <= 0 {
			t.Errorf("%s: total_ms %v", a.Agent, a.TotalMS)
		}
	}
	good := out.Agents[0]
	if good.Reply != "echo: ping" || good.ConnectMS <= 0 || good.TurnMS <= 0 || good.TokensUsed == 0 {
		t.Errorf("good agent: %+v; want the echo, stage times and tokens", good)
	}
	if out.Agents[1].StatusMS != 0 || out.Agents[1].TurnMS != 0 {
		t.Errorf("down agent: stages past connect timed: %+v", out.Agents[1])
	}
	// The reference agent got the turn on the probe's chat id.
	got := ref.Received()
	if len(got) != 1 || got[0].Type != "USER_MESSAGE" || got[0].Text != "ping" || got[0].ChatID != out.ChatID {
		t.Errorf("the agent received %+v; want one USER_MESSAGE ping on chat %s", got, out.ChatID)
	}

	code, stdout, stderr = runCLI(t, env, "check-agents", "--json", "--agent", "agent-0")
	if code != exitOK {
		t.Fatalf("one good agent: exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	out = checkJSON{}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || !out.OK || len(out.Agents) != 1 || out.Agents[0].TurnMS != 0 {
		t.Fatalf("%v: %s", err, stdout)
	}
}

func TestCheckAgentsUsageErrors(t *testing.T) {
	registry, _ := opsAgents(t)
	for _, tc := range []struct {
		name   string
		env    []string
		args   []string
		stderr string
	}{
		{"unknown agent", nil, []string{"--agent", "agent-9"}, `no agent "agent-9"`},
		{"zero timeout", nil, []string{"--timeout", "0s"}, "--timeout must be positive"},
		{"stray argument", nil, []string{"agent-0"}, "unexpected argument"},
		{"bad configuration", []string{"MATRIX_HOMESERVER="}, nil, "matrix.homeserver"},
		{"bad registry", []string{"MATRIX_AGENT_REGISTRY_PATH=/nonexistent/agents.yaml"}, nil, "agents.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(t, registry, tc.env...)
			code, stdout, stderr := runCLI(t, env, append([]string{"check-agents"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.stderr) || stdout != "" {
				t.Fatalf("exit %d (want %d), stderr %q (want %q), stdout %q", code, exitUsage, stderr, tc.stderr, stdout)
			}
		})
	}
}

// readyServer answers /readyz with code.
func readyServer(t *testing.T, code int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(code)
		fmt.Fprintln(w, http.StatusText(code))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestHealthcheck(t *testing.T) {
	ready := readyServer(t, http.StatusOK)
	_, port, _ := net.SplitHostPort(ready)
	unready := readyServer(t, http.StatusServiceUnavailable)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := closed.Addr().String()
	_ = closed.Close()

	dir := t.TempDir()
	goodFile := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(goodFile, []byte("http:\n  listen: \""+ready+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	brokenFile := filepath.Join(dir, "broken.yaml")
	if err := os.WriteFile(brokenFile, []byte("no_such_section:\n  x: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		// env is the whole environment: no Matrix settings at all.
		env  []string
		args []string
		code int
	}{
		{"ready", []string{"SURFACES_HTTP_LISTEN=" + ready}, nil, exitOK},
		{"wildcard host", []string{"SURFACES_HTTP_LISTEN=0.0.0.0:" + port}, nil, exitOK},
		{"empty host", []string{"SURFACES_HTTP_LISTEN=:" + port}, nil, exitOK},
		{"config file", nil, []string{"-config", goodFile}, exitOK},
		{"SURFACES_CONFIG", []string{"SURFACES_CONFIG=" + goodFile}, nil, exitOK},
		{"broken config file falls back to the environment", []string{"SURFACES_HTTP_LISTEN=" + ready}, []string{"-config", brokenFile}, exitOK},
		{"--url", nil, []string{"--url", "http://" + ready + "/readyz"}, exitOK},
		{"not ready", []string{"SURFACES_HTTP_LISTEN=" + unready}, nil, exitFailed},
		{"nothing listens", []string{"SURFACES_HTTP_LISTEN=" + down}, nil, exitFailed},
		{"--url of a 404", nil, []string{"--url", "http://" + ready + "/nope"}, exitFailed},
		{"--url not a URL", nil, []string{"--url", "localhost:8080"}, exitUsage},
		{"unknown flag", nil, []string{"--frobnicate"}, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.env, append([]string{"healthcheck"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q, stderr %q", code, tc.code, stdout, stderr)
			}
			switch tc.code {
			case exitOK:
				if stderr != "" || !strings.HasPrefix(stdout, "ready: http://") {
					t.Errorf("stdout %q, stderr %q", stdout, stderr)
				}
			case exitFailed:
				if line := strings.TrimRight(stderr, "\n"); line == "" || strings.Contains(line, "\n") || !strings.Contains(line, "not ready") {
					t.Errorf("want one line saying why on stderr, got %q", stderr)
				}
			}
		})
	}
}

// The health check against the bot's own HTTP server: 503 until ready.
func TestHealthcheckFollowsReadyz(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	h := &health{}
	reg, _ := newMetricsRegistry("")
	addr, done, err := serveHTTP(ctx, "127.0.0.1:0", h, reg, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })
	env := []string{"SURFACES_HTTP_LISTEN=" + addr}
	if code, _, stderr := runCLI(t, env, "healthcheck"); code != exitFailed || !strings.Contains(stderr, "503") {
		t.Fatalf("before ready: exit %d, stderr %q; want 1 and the 503", code, stderr)
	}
	h.loggedIn.Store(true)
	h.synced.Store(true)
	h.reconciled.Store(true)
	if code, stdout, stderr := runCLI(t, env, "healthcheck"); code != exitOK {
		t.Fatalf("ready: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// The profiler is served only when http.pprof asks for it.
func TestPprofOnlyWhenAskedFor(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint(on), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			reg, _ := newMetricsRegistry("")
			addr, done, err := serveHTTP(ctx, "127.0.0.1:0", &health{}, reg, on)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cancel(); <-done })
			resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if served := resp.StatusCode == http.StatusOK && strings.Contains(string(body), "goroutine profile"); served != on {
				t.Fatalf("http.pprof %t: /debug/pprof/goroutine answered %d (a profile: %t)", on, resp.StatusCode, served)
			}
		})
	}
}

func TestReadyzURL(t *testing.T) {
	for listen, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080/readyz",
		"0.0.0.0:8080":   "http://127.0.0.1:8080/readyz",
		"[::]:8080":      "http://127.0.0.1:8080/readyz",
		"127.0.0.1:9090": "http://127.0.0.1:9090/readyz",
		"10.1.2.3:8080":  "http://10.1.2.3:8080/readyz",
		"localhost:8080": "http://localhost:8080/readyz",
		"[::1]:8080":     "http://[::1]:8080/readyz",
	} {
		if got := readyzURL(listen); got != want {
			t.Errorf("readyzURL(%q) = %q, want %q", listen, got, want)
		}
	}
}
