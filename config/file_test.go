package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name      string
		content   string
		key       string
		kind      error
		fragments []string
	}{
		{name: "unknown top-level key", content: "matrixx:\n  homeserver: x\n",
			key: "matrixx.homeserver", kind: ErrUnknownKey, fragments: []string{"unknown key", `did you mean "matrix.homeserver"`}},
		{name: "unknown nested key", content: "streaming:\n  edit_intervall: 2s\n",
			key: "streaming.edit_intervall", kind: ErrUnknownKey, fragments: []string{`did you mean "streaming.edit_interval"`, "surfaces.yaml"}},
		{name: "unknown key far from any", content: "zzzzzzzzzzzz: 1\n",
			key: "zzzzzzzzzzzz", kind: ErrUnknownKey, fragments: []string{"unknown key"}},
		{name: "section given a value", content: "streaming: fast\n",
			key: "streaming", kind: ErrInvalidValue, fragments: []string{"want a mapping"}},
		{name: "value given a mapping", content: "http:\n  listen:\n    host: x\n",
			key: "http.listen", kind: ErrInvalidValue, fragments: []string{"want a single value"}},
		{name: "duration without unit", content: "streaming:\n  edit_interval: 5\n",
			key: "streaming.edit_interval", kind: ErrInvalidValue, fragments: []string{"with a unit", "surfaces.yaml"}},
		{name: "bad duration", content: "shutdown:\n  grace: soon\n",
			key: "shutdown.grace", kind: ErrInvalidValue, fragments: []string{"want a duration"}},
		{name: "bad size", content: "workspace:\n  max_file_size: 50 parsecs\n",
			key: "workspace.max_file_size", kind: ErrInvalidValue, fragments: []string{"invalid size"}},
		{name: "negative size", content: "workspace:\n  max_file_size: -1\n",
			key: "workspace.max_file_size", kind: ErrInvalidValue, fragments: []string{"want a size"}},
		{name: "bad bool", content: "agents:\n  user_selectable: sometimes\n",
			key: "agents.user_selectable", kind: ErrInvalidValue, fragments: []string{"true or false"}},
		{name: "bad int", content: "queue:\n  size: 2.5\n",
			key: "queue.size", kind: ErrInvalidValue, fragments: []string{"whole number"}},
		{name: "list item not scalar", content: "matrix:\n  allowed_servers: [{a: b}]\n",
			key: "matrix.allowed_servers", kind: ErrInvalidValue, fragments: []string{"item 1"}},
		{name: "list given a mapping", content: "matrix:\n  allowed_servers: {a: b}\n",
			key: "matrix.allowed_servers", kind: ErrInvalidValue, fragments: []string{"want a list"}},
		{name: "text given a list", content: "locale: [en]\n",
			key: "locale", kind: ErrInvalidValue, fragments: []string{"single text value"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := newTestConfigFile(t, tc.content)
			_, err := Load(LoadOptions{ConfigPath: path, Env: validEnv()})
			wantProblem(t, err, tc.key, tc.kind, tc.fragments...)
		})
	}
}

func TestFileNullsAndScalarsAreLenient(t *testing.T) {
	path := newTestConfigFile(t, `
streaming:
matrix:
  password:
  device_id: 12345
http: {}
queue:
  size: "3"
`)
	c := mustLoad(t, LoadOptions{ConfigPath: path, Env: validEnv()})
	if c.Matrix.DeviceID != "12345" || c.Queue.Size != 3 || c.Streaming.EditInterval != Defaults().Streaming.EditInterval {
		t.Fatalf("got device_id %q, queue.size %d, edit_interval %s", c.Matrix.DeviceID, c.Queue.Size, c.Streaming.EditInterval)
	}
}

func TestUnreadableFile(t *testing.T) {
	tests := []struct {
		name string
		path func(t *testing.T) string
	}{
		{name: "missing", path: func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope.yaml") }},
		{name: "not yaml", path: func(t *testing.T) string { return newTestConfigFile(t, "matrix: [unclosed\n") }},
		{name: "duplicate key", path: func(t *testing.T) string { return newTestConfigFile(t, "locale: en\nlocale: ru\n") }},
		{name: "top level list", path: func(t *testing.T) string { return newTestConfigFile(t, "- a\n- b\n") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path(t)
			_, err := Load(LoadOptions{ConfigPath: path, Env: validEnv()})
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("Load error = %v, want one naming %s", err, path)
			}
		})
	}
}

func TestEnvDecodeErrorNamesVariable(t *testing.T) {
	_, err := Load(LoadOptions{Env: withEnv("SURFACES_AGENTS_CONNECT_TIMEOUT=10")})
	wantProblem(t, err, "agents.connect_timeout", ErrInvalidValue, "env SURFACES_AGENTS_CONNECT_TIMEOUT", "with a unit")
	if !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("errors.Is(err, ErrInvalidValue) = false for %v", err)
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	path := newTestConfigFile(t, "locale: fr\nqueue:\n  size: 0\nbogus: 1\n")
	_, err := Load(LoadOptions{ConfigPath: path})
	ps := problemsOf(t, err)
	keys := map[string]bool{}
	for _, p := range ps {
		keys[p.Key] = true
	}
	for _, k := range []string{"locale", "queue.size", "bogus", "matrix.homeserver", "matrix.user_id", "matrix.access_token", "agents.registry_path", "workspace.dir"} {
		if !keys[k] {
			t.Errorf("no problem reported for %s in:\n%v", k, err)
		}
	}
	if !strings.Contains(err.Error(), "problems:\n  - ") {
		t.Errorf("multi-problem error is not a list:\n%v", err)
	}
}
