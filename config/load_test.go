package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c := mustLoad(t, LoadOptions{Env: validEnv()})
	tests := []struct {
		key  string
		got  any
		want any
	}{
		{"agents.unassigned", c.Agents.Unassigned, "default"},
		{"agents.user_selectable", c.Agents.UserSelectable, false},
		{"agents.connect_timeout", c.Agents.ConnectTimeout, 10 * time.Second},
		{"agents.turn_idle_timeout", c.Agents.TurnIdleTimeout, 2 * time.Minute},
		{"workspace.max_file_size", c.Workspace.MaxFileSize, 50 * MiB},
		{"state.path", c.State.Path, "./data"},
		{"http.listen", c.HTTP.Listen, "127.0.0.1:8080"},
		{"locale", c.Locale, "en"},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "auto"},
		{"streaming.edit_interval", c.Streaming.EditInterval, time.Second},
		{"streaming.typing_after", c.Streaming.TypingAfter, 100 * time.Millisecond},
		{"queue.size", c.Queue.Size, 10},
		{"onboarding.space_name_template", c.Onboarding.SpaceNameTemplate, "Lambda — {name}"},
		{"onboarding.first_chat_name", c.Onboarding.FirstChatName, ""},
		{"shutdown.grace", c.Shutdown.Grace, 30 * time.Second},
		{"matrix.allowed_servers", len(c.Matrix.AllowedServers), 0},
		{"matrix.encryption", c.Matrix.Encryption, "allowed"},
		{"matrix.key_wait", c.Matrix.KeyWait, 30 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Fatalf("%s = %v, want %v", tc.key, tc.got, tc.want)
			}
			if src := c.Source(tc.key); src != "default" {
				t.Fatalf("Source(%s) = %q, want default", tc.key, src)
			}
		})
	}
	if c.File() != "" {
		t.Fatalf("File() = %q, want none", c.File())
	}
}

func TestFileThenEnvPrecedence(t *testing.T) {
	path := newTestConfigFile(t, `
matrix:
  homeserver: "https://file.test.invalid"
  allowed_servers: [a.test.invalid, b.test.invalid]
streaming:
  edit_interval: 3s
queue:
  size: 4
locale: ru
`)
	tests := []struct {
		name    string
		env     []string
		check   func(c *Config) any
		want    any
		wantSrc string
		key     string
	}{
		{name: "file beats default", key: "queue.size", env: validEnv(),
			check: func(c *Config) any { return c.Queue.Size }, want: 4, wantSrc: `file "` + path + `"`},
		{name: "env beats file", key: "streaming.edit_interval", env: withEnv("SURFACES_STREAMING_EDIT_INTERVAL=250ms"),
			check: func(c *Config) any { return c.Streaming.EditInterval }, want: 250 * time.Millisecond, wantSrc: "env SURFACES_STREAMING_EDIT_INTERVAL"},
		{name: "legacy env beats file", key: "matrix.homeserver", env: validEnv(),
			check: func(c *Config) any { return c.Matrix.Homeserver }, want: "https://matrix.test.invalid", wantSrc: "env MATRIX_HOMESERVER"},
		{name: "file list", key: "matrix.allowed_servers", env: validEnv(),
			check: func(c *Config) any { return c.Matrix.AllowedServers }, want: []string{"a.test.invalid", "b.test.invalid"}, wantSrc: `file "` + path + `"`},
		{name: "env list replaces file list", key: "matrix.allowed_servers", env: withEnv("SURFACES_MATRIX_ALLOWED_SERVERS= c.test.invalid ,,d.test.invalid"),
			check: func(c *Config) any { return c.Matrix.AllowedServers }, want: []string{"c.test.invalid", "d.test.invalid"}, wantSrc: "env SURFACES_MATRIX_ALLOWED_SERVERS"},
		{name: "empty env is unset", key: "locale", env: withEnv("SURFACES_LOCALE="),
			check: func(c *Config) any { return c.Locale }, want: "ru", wantSrc: `file "` + path + `"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, LoadOptions{ConfigPath: path, Env: tc.env})
			if got := tc.check(c); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%s = %v, want %v", tc.key, got, tc.want)
			}
			if src := c.Source(tc.key); src != tc.wantSrc {
				t.Fatalf("Source(%s) = %q, want %q", tc.key, src, tc.wantSrc)
			}
		})
	}
}

func TestConfigPathSelection(t *testing.T) {
	fromEnv := newTestConfigFile(t, "queue:\n  size: 2\n")
	fromFlag := newTestConfigFile(t, "queue:\n  size: 3\n")
	tests := []struct {
		name     string
		flag     string
		env      []string
		wantSize int
		wantFile string
	}{
		{name: "no file", env: validEnv(), wantSize: 10},
		{name: "SURFACES_CONFIG", env: withEnv("SURFACES_CONFIG=" + fromEnv), wantSize: 2, wantFile: fromEnv},
		{name: "flag wins over SURFACES_CONFIG", flag: fromFlag, env: withEnv("SURFACES_CONFIG=" + fromEnv), wantSize: 3, wantFile: fromFlag},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, LoadOptions{ConfigPath: tc.flag, Env: tc.env})
			if c.Queue.Size != tc.wantSize || c.File() != tc.wantFile {
				t.Fatalf("queue.size = %d from %q, want %d from %q", c.Queue.Size, c.File(), tc.wantSize, tc.wantFile)
			}
		})
	}
}

func TestLegacyEnvNames(t *testing.T) {
	base := []string{ // valid through SURFACES_ names only, so each legacy name is tested alone
		"SURFACES_MATRIX_HOMESERVER=https://matrix.test.invalid",
		"SURFACES_MATRIX_USER_ID=@bot:test.invalid",
		"SURFACES_MATRIX_PASSWORD=a-real-password",
		"SURFACES_AGENTS_REGISTRY_PATH=/config/agents.yaml",
		"SURFACES_WORKSPACE_DIR=/agents",
		"SURFACES_MATRIX_PICKLE_KEY=a-pickle-key-for-tests",
	}
	tests := []struct {
		env   string
		key   string
		value string
		get   func(c *Config) string
	}{
		{"MATRIX_HOMESERVER", "matrix.homeserver", "https://legacy.test.invalid", func(c *Config) string { return c.Matrix.Homeserver }},
		{"MATRIX_USER_ID", "matrix.user_id", "@legacy:test.invalid", func(c *Config) string { return c.Matrix.UserID }},
		{"MATRIX_ACCESS_TOKEN", "matrix.access_token", "syt_bGVnYWN5_tokenvalue_1a2b", func(c *Config) string { return c.Matrix.AccessToken.Reveal() }},
		{"MATRIX_PASSWORD", "matrix.password", "legacy-password", func(c *Config) string { return c.Matrix.Password.Reveal() }},
		{"MATRIX_DEVICE_ID", "matrix.device_id", "LEGACYDEV", func(c *Config) string { return c.Matrix.DeviceID }},
		{"MATRIX_AGENT_REGISTRY_PATH", "agents.registry_path", "/legacy/agents.yaml", func(c *Config) string { return c.Agents.RegistryPath }},
		{"AGENT_BASE_URL", "agents.base_url", "http://agents.test.invalid:7000/", func(c *Config) string { return c.Agents.BaseURL }},
		{"SURFACES_WORKSPACE_DIR", "workspace.dir", "/legacy/agents", func(c *Config) string { return c.Workspace.Dir }},
		{"SURFACES_STATE_PATH", "state.path", "/legacy/state", func(c *Config) string { return c.State.Path }},
		{"SURFACES_HTTP_LISTEN", "http.listen", ":9090", func(c *Config) string { return c.HTTP.Listen }},
		{"SURFACES_LOCALE", "locale", "ru", func(c *Config) string { return c.Locale }},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			var env []string
			for _, kv := range base { // drop the base's canonical setting of this key
				if name, _, _ := strings.Cut(kv, "="); name != "SURFACES_"+strings.ToUpper(strings.ReplaceAll(tc.key, ".", "_")) {
					env = append(env, kv)
				}
			}
			c := mustLoad(t, LoadOptions{Env: append(env, tc.env+"="+tc.value)})
			if got := tc.get(c); got != tc.value {
				t.Fatalf("%s = %q, want %q", tc.key, got, tc.value)
			}
			if src := c.Source(tc.key); src != "env "+tc.env {
				t.Fatalf("Source(%s) = %q, want env %s", tc.key, src, tc.env)
			}
		})
	}
}

func TestCanonicalEnvBeatsLegacyInAnyOrder(t *testing.T) {
	for _, env := range [][]string{
		withEnv("SURFACES_MATRIX_HOMESERVER=https://canonical.test.invalid", "MATRIX_HOMESERVER=https://legacy.test.invalid"),
		withEnv("MATRIX_HOMESERVER=https://legacy.test.invalid", "SURFACES_MATRIX_HOMESERVER=https://canonical.test.invalid"),
	} {
		c := mustLoad(t, LoadOptions{Env: env})
		if c.Matrix.Homeserver != "https://canonical.test.invalid" {
			t.Fatalf("homeserver = %q, want the SURFACES_ value", c.Matrix.Homeserver)
		}
	}
}

func TestSurfacesEnvOverridesNestedKeys(t *testing.T) {
	c := mustLoad(t, LoadOptions{Env: withEnv(
		"SURFACES_STREAMING_EDIT_INTERVAL=1500ms",
		"SURFACES_STREAMING_TYPING_REFRESH=5s",
		"SURFACES_STREAMING_TYPING_AFTER=300ms",
		"SURFACES_STREAMING_MAX_MESSAGE_BYTES=8KiB",
		"SURFACES_AGENTS_USER_SELECTABLE=true",
		"SURFACES_AGENTS_UNASSIGNED=deny",
		"SURFACES_AGENTS_DENY_MESSAGE=Ask the operator",
		"SURFACES_AGENTS_TURN_IDLE_TIMEOUT=5m",
		"SURFACES_AGENTS_IDLE_CLOSE=1h",
		"SURFACES_WORKSPACE_MAX_FILE_SIZE=1GiB",
		"SURFACES_RATE_LIMIT_RATE=2.5",
		"SURFACES_RATE_LIMIT_BURST=3",
		"SURFACES_QUEUE_SIZE=7",
		"SURFACES_LOG_LEVEL=debug",
		"SURFACES_LOG_FORMAT=json",
		"SURFACES_ONBOARDING_SPACE_NAME_TEMPLATE=Space of {name}",
		"SURFACES_ONBOARDING_FIRST_CHAT_NAME=First",
		"SURFACES_SHUTDOWN_GRACE=45s",
		"SURFACES_MATRIX_DISPLAY_NAME=Bot",
		"SURFACES_MATRIX_SEND_RATE=0.2",
		"SURFACES_MATRIX_SEND_BURST=10",
		"SURFACES_ACTORS_PASSIVATE_AFTER=1h",
	)})
	tests := []struct {
		key  string
		got  any
		want any
	}{
		{"streaming.edit_interval", c.Streaming.EditInterval, 1500 * time.Millisecond},
		{"streaming.typing_refresh", c.Streaming.TypingRefresh, 5 * time.Second},
		{"streaming.typing_after", c.Streaming.TypingAfter, 300 * time.Millisecond},
		{"streaming.max_message_bytes", c.Streaming.MaxMessageBytes, 8 * KiB},
		{"agents.user_selectable", c.Agents.UserSelectable, true},
		{"agents.unassigned", c.Agents.Unassigned, "deny"},
		{"agents.deny_message", c.Agents.DenyMessage, "Ask the operator"},
		{"agents.turn_idle_timeout", c.Agents.TurnIdleTimeout, 5 * time.Minute},
		{"agents.idle_close", c.Agents.IdleClose, time.Hour},
		{"workspace.max_file_size", c.Workspace.MaxFileSize, GiB},
		{"rate_limit.rate", c.RateLimit.Rate, 2.5},
		{"rate_limit.burst", c.RateLimit.Burst, 3},
		{"queue.size", c.Queue.Size, 7},
		{"log.level", c.Log.Level, "debug"},
		{"log.format", c.Log.Format, "json"},
		{"onboarding.space_name_template", c.Onboarding.SpaceNameTemplate, "Space of {name}"},
		{"onboarding.first_chat_name", c.Onboarding.FirstChatName, "First"},
		{"shutdown.grace", c.Shutdown.Grace, 45 * time.Second},
		{"matrix.display_name", c.Matrix.DisplayName, "Bot"},
		{"matrix.send_rate", c.Matrix.SendRate, 0.2},
		{"matrix.send_burst", c.Matrix.SendBurst, 10},
		{"actors.passivate_after", c.Actors.PassivateAfter, time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Fatalf("%s = %v, want %v", tc.key, tc.got, tc.want)
			}
		})
	}
}

// Every key has exactly one SURFACES_ name, derived from its path, and the
// seed's SURFACES_ names are among them.
func TestEnvNames(t *testing.T) {
	seen := map[string]string{}
	for _, f := range fields() {
		if other, dup := seen[f.env]; dup {
			t.Fatalf("%s and %s share the env name %s", other, f.key, f.env)
		}
		seen[f.env] = f.key
		if f.env == EnvConfigPath {
			t.Fatalf("key %s collides with %s", f.key, EnvConfigPath)
		}
	}
	for name, key := range map[string]string{
		"SURFACES_WORKSPACE_DIR":           "workspace.dir",
		"SURFACES_STATE_PATH":              "state.path",
		"SURFACES_HTTP_LISTEN":             "http.listen",
		"SURFACES_LOCALE":                  "locale",
		"SURFACES_STREAMING_EDIT_INTERVAL": "streaming.edit_interval",
		"SURFACES_MATRIX_HOMESERVER":       "matrix.homeserver",
	} {
		if seen[name] != key {
			t.Errorf("%s maps to %q, want %q", name, seen[name], key)
		}
	}
	for name, key := range legacyEnv {
		if _, ok := lookupField(key); !ok {
			t.Errorf("legacy %s maps to unknown key %s", name, key)
		}
	}
}

func TestUnknownEnvIsReportedNotFatal(t *testing.T) {
	c := mustLoad(t, LoadOptions{Env: withEnv("SURFACES_STREAMING_EDITINTERVAL=2s", "SURFACES_CONFIG=", "HOME=/root")})
	if got, want := c.UnknownEnv(), []string{"SURFACES_STREAMING_EDITINTERVAL"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("UnknownEnv = %v, want %v", got, want)
	}
}

func TestEnvAloneIsEnough(t *testing.T) {
	c := mustLoad(t, LoadOptions{Env: validEnv()})
	if c.Matrix.Homeserver == "" || c.Workspace.Dir == "" {
		t.Fatalf("config from env alone is incomplete: %s", c)
	}
}
