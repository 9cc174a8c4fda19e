package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// runTool runs the bot binary with args and exactly env (nothing inherited
// but PATH and HOME), and returns its exit code and output.
func runTool(ctx context.Context, t *testing.T, bin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	default:
		t.Fatalf("%s %v: %v", bin, args, err)
		return 0, "", ""
	}
}

// TestOperatorCommandsBesideTheRunningBot runs the container health check
// and check-agents, as an operator or Docker would, next to a running bot
// on the real homeserver.
func TestOperatorCommandsBesideTheRunningBot(t *testing.T) {
	w := newWorld(t)
	bin := w.stack.BotBinary()

	t.Run("healthcheck of the ready bot", func(t *testing.T) {
		// Only the listen address: no Matrix settings, no registry.
		code, stdout, stderr := runTool(w.ctx, t, bin, []string{"SURFACES_HTTP_LISTEN=" + w.stack.HTTPAddr()}, "healthcheck")
		if code != 0 || stdout != "ready: http://"+w.stack.HTTPAddr()+"/readyz\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		// The bot's own environment, as the image's HEALTHCHECK sees it.
		if code, stdout, stderr := runTool(w.ctx, t, bin, w.stack.BotEnv(), "healthcheck"); code != 0 {
			t.Fatalf("with the bot's environment: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})

	t.Run("healthcheck of a port nobody serves", func(t *testing.T) {
		port, err := harness.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runTool(w.ctx, t, bin, []string{fmt.Sprintf("SURFACES_HTTP_LISTEN=127.0.0.1:%d", port)}, "healthcheck")
		line := strings.TrimRight(stderr, "\n")
		if code != 1 || stdout != "" || line == "" || strings.Contains(line, "\n") {
			t.Fatalf("exit %d, stdout %q, stderr %q; want 1 and one line", code, stdout, stderr)
		}
	})

	t.Run("check-agents reaches the reference agent", func(t *testing.T) {
		code, stdout, stderr := runTool(w.ctx, t, bin, w.stack.BotEnv(), "check-agents", "--json", "--message", "probe hello")
		if code != 0 {
			t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		var out struct {
			OK     bool   `json:"ok"`
			ChatID string `json:"chat_id"`
			Agents []struct {
				Agent, URL, Stage, Reply, Error string
				OK                              bool
			} `json:"agents"`
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, stdout)
		}
		if !out.OK || len(out.Agents) != 1 {
			t.Fatalf("%s", stdout)
		}
		a := out.Agents[0]
		if a.Agent != "agent-0" || a.Stage != "ok" || !a.OK || a.Error != "" || a.Reply != "echo: probe hello" {
			t.Fatalf("agent result %+v", a)
		}
		if want := strings.Replace(w.stack.AgentURL, "http://", "ws://", 1) + "v1/agent_ws/" + out.ChatID + "/"; a.URL != want {
			t.Errorf("url %q, want %q", a.URL, want)
		}
		found := false
		for _, r := range w.stack.Agent.Received() {
			if r.Type == "USER_MESSAGE" && r.Text == "probe hello" {
				found = r.ChatID == out.ChatID
			}
		}
		if !found {
			t.Errorf("the reference agent did not get the probe's turn on chat %s: %+v", out.ChatID, w.stack.Agent.Received())
		}
	})

	// The probe left the bot alone: it is still ready.
	if code, _, stderr := runTool(w.ctx, t, bin, w.stack.BotEnv(), "healthcheck"); code != 0 {
		t.Fatalf("after the probes: exit %d, %s", code, stderr)
	}
}
