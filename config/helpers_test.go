package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validEnv is an environment from which a complete, valid Config loads.
func validEnv() []string {
	return []string{
		"MATRIX_HOMESERVER=https://matrix.test.invalid",
		"MATRIX_USER_ID=@bot:test.invalid",
		"MATRIX_ACCESS_TOKEN=syt_Ym90_realtokenvalue_0a1b2c",
		"MATRIX_AGENT_REGISTRY_PATH=/config/agents.yaml",
		"SURFACES_WORKSPACE_DIR=/agents",
		"SURFACES_MATRIX_PICKLE_KEY=a-pickle-key-for-tests",
	}
}

// withEnv returns validEnv plus extra entries (later entries win).
func withEnv(extra ...string) []string {
	return append(validEnv(), extra...)
}

// newTestConfigFile writes content to a YAML file in a temporary directory
// (removed with the test) and returns its path.
func newTestConfigFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "surfaces.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write config file: %v", err)
	}
	return path
}

// mustLoad loads and fails the test on error.
func mustLoad(t *testing.T, opts LoadOptions) *Config {
	t.Helper()
	c, err := Load(opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// problemsOf extracts the problems of a *ValidationError, failing otherwise.
func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v (%T), want *ValidationError", err, err)
	}
	return ve.Problems
}

// wantProblem asserts err has a problem for key of kind, whose rendering
// contains every fragment.
func wantProblem(t *testing.T, err error, key string, kind error, fragments ...string) {
	t.Helper()
	for _, p := range problemsOf(t, err) {
		if p.Key != key {
			continue
		}
		if !errors.Is(p.Err, kind) {
			t.Fatalf("problem for %s is %v, want %v: %s", key, p.Err, kind, p)
		}
		for _, f := range fragments {
			if !strings.Contains(p.String(), f) {
				t.Fatalf("problem %q lacks %q", p.String(), f)
			}
		}
		if !strings.Contains(err.Error(), key) {
			t.Fatalf("error %q does not name %s", err, key)
		}
		return
	}
	t.Fatalf("no problem for %s in: %v", key, err)
}
