package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// TestBadCredentialsAndConfigExitWithOneClearLine starts the real binary
// against the real homeserver with wrong settings: each must exit non-zero
// with one line that says what is wrong, and never start syncing.
func TestBadCredentialsAndConfigExitWithOneClearLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Dendrite and the bot; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	ctx = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.InfoLevel).WithContext(ctx)
	stack, err := harness.StartStack(ctx, harness.StackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := stack.Close(); err != nil {
			t.Error(err)
		}
	}()

	tests := []struct {
		name     string
		env      []string
		wantCode int
		want     []string
	}{
		{"wrong password", []string{"MATRIX_PASSWORD=not-the-password"}, 1, []string{"matrix login failed", stack.BotID.String(), "M_FORBIDDEN"}},
		{"unknown user", []string{"MATRIX_USER_ID=@nobody:localhost"}, 1, []string{"matrix login failed", "@nobody:localhost"}},
		{"revoked access token", []string{"MATRIX_ACCESS_TOKEN=syt_bm90X2FfdG9rZW4_abcdefghijklmnop_123456"}, 1, []string{"matrix login failed", "M_UNKNOWN_TOKEN"}},
		{"missing registry", []string{"MATRIX_AGENT_REGISTRY_PATH=" + filepath.Join(stack.Dir(), "nope.yaml")}, 2, []string{"nope.yaml"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := append(stack.BotEnv(),
				"SURFACES_STATE_PATH="+filepath.Join(stack.Dir(), "bad-state-"+string(rune('a'+i))),
				"SURFACES_HTTP_LISTEN=127.0.0.1:0")
			env = append(env, tc.env...)
			cmd := exec.CommandContext(ctx, stack.BotBinary(), "run")
			cmd.Env = append(os.Environ(), env...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tc.wantCode {
				t.Fatalf("exit %v, want code %d; stderr:\n%s", err, tc.wantCode, stderr.String())
			}
			line := strings.TrimSpace(stderr.String())
			if strings.Contains(line, "\n") {
				t.Fatalf("want one line on stderr, got:\n%s", line)
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("stderr %q does not mention %q", line, w)
				}
			}
			if strings.Contains(line, "not-the-password") {
				t.Errorf("stderr leaks the password: %q", line)
			}
		})
	}
}
