package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/v2"
)

// bytesProvider feeds embedded bytes to koanf (the rawbytes provider is a
// module go.mod does not pin).
type bytesProvider []byte

func (b bytesProvider) ReadBytes() ([]byte, error) { return b, nil }

func (b bytesProvider) Read() (map[string]any, error) {
	return nil, errors.New("bytesProvider needs a parser")
}

func writeExample(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "surfaces.yaml")
	if err := os.WriteFile(path, ExampleConfig(), 0o600); err != nil {
		t.Fatalf("write example: %v", err)
	}
	return path
}

// The example fails validation only because of its placeholders.
func TestExampleConfigFailsOnlyOnPlaceholders(t *testing.T) {
	_, err := Load(LoadOptions{ConfigPath: writeExample(t)})
	ps := problemsOf(t, err)
	got := map[string]bool{}
	for _, p := range ps {
		if !errors.Is(p.Err, ErrPlaceholder) {
			t.Errorf("non-placeholder problem in the example: %s", p)
		}
		got[p.Key] = true
	}
	for _, key := range []string{"matrix.homeserver", "matrix.user_id", "matrix.access_token"} {
		if !got[key] {
			t.Errorf("example's %s placeholder was not rejected", key)
		}
	}
}

// With the placeholders replaced through the environment, it loads.
func TestExampleConfigPassesWithPlaceholdersReplaced(t *testing.T) {
	c := mustLoad(t, LoadOptions{Env: []string{
		"SURFACES_CONFIG=" + writeExample(t),
		"MATRIX_HOMESERVER=https://matrix.test.invalid",
		"MATRIX_USER_ID=@surfaces-bot:test.invalid",
		"MATRIX_ACCESS_TOKEN=syt_c3VyZmFjZXM_realvalue_1a2b3c",
		"SURFACES_MATRIX_PICKLE_KEY=a-real-pickle-key-value",
	}})
	if c.Agents.RegistryPath != "/config/matrix-agents.yaml" || c.Workspace.Dir != "/agents" {
		t.Fatalf("example values not loaded: %s", c)
	}
}

// Every key appears in the example, and nothing else does.
func TestExampleConfigHasEveryKey(t *testing.T) {
	k := koanf.New(".")
	if err := k.Load(bytesProvider(ExampleConfig()), yaml.Parser()); err != nil {
		t.Fatalf("parse example: %v", err)
	}
	var want []string
	for _, f := range fields() {
		want = append(want, f.key)
	}
	got := slices.Sorted(maps.Keys(k.All()))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("example keys differ from Config keys:\n got %v\nwant %v", got, want)
	}
}

func TestExampleRegistry(t *testing.T) {
	k := koanf.New("/") // user ids contain dots
	if err := k.Load(bytesProvider(ExampleRegistry()), yaml.Parser()); err != nil {
		t.Fatalf("parse example registry: %v", err)
	}
	if got := k.String("user_agents/@alice:example.org"); got != "agent-0" {
		t.Fatalf("user_agents[@alice:example.org] = %q, want agent-0", got)
	}
	agents := k.Slices("agents")
	if len(agents) != 1 {
		t.Fatalf("got %d agents, want 1", len(agents))
	}
	a := agents[0]
	for key, want := range map[string]string{
		"id": "agent-0", "label": "Agent 0",
		"base_url":       "http://agents.example.org:7000/agent_0/",
		"workspace_path": "/agents/0",
	} {
		if got := a.String(key); got != want {
			t.Errorf("agents[0].%s = %q, want %q", key, got, want)
		}
	}
}
