package config

import (
	"strings"
	"testing"
)

func TestValidateNamesKey(t *testing.T) {
	tests := []struct {
		name      string
		env       []string
		mutate    func(c *Config)
		key       string
		kind      error
		fragments []string
	}{
		{name: "missing homeserver", mutate: func(c *Config) { c.Matrix.Homeserver = "" },
			key: "matrix.homeserver", kind: ErrMissing, fragments: []string{"is required", "MATRIX_HOMESERVER", "SURFACES_MATRIX_HOMESERVER"}},
		{name: "missing user id", mutate: func(c *Config) { c.Matrix.UserID = "" },
			key: "matrix.user_id", kind: ErrMissing, fragments: []string{"MATRIX_USER_ID"}},
		{name: "missing credentials", mutate: func(c *Config) { c.Matrix.AccessToken = "" },
			key: "matrix.access_token", kind: ErrMissing, fragments: []string{"matrix.password", "MATRIX_PASSWORD"}},
		{name: "unknown mode", env: withEnv("SURFACES_MATRIX_MODE=pull"),
			key: "matrix.mode", kind: ErrInvalidValue, fragments: []string{"client, appservice"}},
		{name: "appservice without tokens", env: withEnv("SURFACES_MATRIX_MODE=appservice", "SURFACES_MATRIX_ENCRYPTION=off"),
			key: "matrix.appservice.registration", kind: ErrMissing, fragments: []string{"surfaces appservice register"}},
		{name: "appservice with only one token", env: withEnv("SURFACES_MATRIX_MODE=appservice", "SURFACES_MATRIX_ENCRYPTION=off", "SURFACES_MATRIX_APPSERVICE_AS_TOKEN=a"),
			key: "matrix.appservice.registration", kind: ErrMissing},
		{name: "appservice bad listen", env: withEnv("SURFACES_MATRIX_MODE=appservice", "SURFACES_MATRIX_ENCRYPTION=off",
			"SURFACES_MATRIX_APPSERVICE_REGISTRATION=/r.yaml", "SURFACES_MATRIX_APPSERVICE_LISTEN=nowhere"),
			key: "matrix.appservice.listen", kind: ErrInvalidValue},
		{name: "appservice to-device neither way", env: withEnv("SURFACES_MATRIX_MODE=appservice", "SURFACES_MATRIX_ENCRYPTION=off",
			"SURFACES_MATRIX_APPSERVICE_REGISTRATION=/r.yaml", "SURFACES_MATRIX_APPSERVICE_TO_DEVICE=pull"),
			key: "matrix.appservice.to_device", kind: ErrInvalidValue, fragments: []string{"sync, push"}},
		{name: "cluster on Badger", env: withEnv("SURFACES_CLUSTER_ENABLED=true"),
			key: "cluster.enabled", kind: ErrInvalidValue, fragments: []string{"persistence.backend: postgres"}},
		{name: "cluster member id with a space", env: withEnv("SURFACES_CLUSTER_ENABLED=true", "SURFACES_PERSISTENCE_BACKEND=postgres",
			"SURFACES_PERSISTENCE_POSTGRES_DSN=postgres://db.test.invalid/s", "SURFACES_CLUSTER_MEMBER_ID=member one"),
			key: "cluster.member_id", kind: ErrInvalidValue, fragments: []string{"without spaces"}},
		{name: "cluster member id too long", env: withEnv("SURFACES_CLUSTER_ENABLED=true", "SURFACES_PERSISTENCE_BACKEND=postgres",
			"SURFACES_PERSISTENCE_POSTGRES_DSN=postgres://db.test.invalid/s", "SURFACES_CLUSTER_MEMBER_ID="+strings.Repeat("m", 65)),
			key: "cluster.member_id", kind: ErrInvalidValue},
		{name: "grains without a cluster", env: withEnv("SURFACES_CLUSTER_GRAINS=true", "SURFACES_MATRIX_ENCRYPTION=off"),
			key: "cluster.grains", kind: ErrInvalidValue, fragments: []string{"cluster.enabled: true"}},
		{name: "grains with encryption and an access token", env: withEnv("SURFACES_CLUSTER_ENABLED=true", "SURFACES_PERSISTENCE_BACKEND=postgres",
			"SURFACES_PERSISTENCE_POSTGRES_DSN=postgres://db.test.invalid/s", "SURFACES_CLUSTER_GRAINS=true", "SURFACES_MATRIX_ENCRYPTION=allowed",
			"SURFACES_CLUSTER_MEMBER_ID=m1"),
			key: "matrix.access_token", kind: ErrInvalidValue, fragments: []string{"matrix.password", "device of its own"}},
		{name: "grains with encryption and a device id", env: withEnv("SURFACES_CLUSTER_ENABLED=true", "SURFACES_PERSISTENCE_BACKEND=postgres",
			"SURFACES_PERSISTENCE_POSTGRES_DSN=postgres://db.test.invalid/s", "SURFACES_CLUSTER_GRAINS=true", "SURFACES_MATRIX_ENCRYPTION=default",
			"MATRIX_PASSWORD=pw", "SURFACES_MATRIX_DEVICE_ID=DEV", "SURFACES_CLUSTER_MEMBER_ID=m1"), mutate: func(c *Config) { c.Matrix.AccessToken = "" },
			key: "matrix.device_id", kind: ErrInvalidValue, fragments: []string{"device of its own"}},
		{name: "grains with encryption without a member id", env: withEnv("SURFACES_CLUSTER_ENABLED=true", "SURFACES_PERSISTENCE_BACKEND=postgres",
			"SURFACES_PERSISTENCE_POSTGRES_DSN=postgres://db.test.invalid/s", "SURFACES_CLUSTER_GRAINS=true", "SURFACES_MATRIX_ENCRYPTION=default",
			"MATRIX_PASSWORD=pw"), mutate: func(c *Config) { c.Matrix.AccessToken = "" },
			key: "cluster.member_id", kind: ErrInvalidValue, fragments: []string{"own device"}},
		{name: "grains with encryption in appservice mode", env: withEnv("SURFACES_CLUSTER_ENABLED=true", "SURFACES_PERSISTENCE_BACKEND=postgres",
			"SURFACES_PERSISTENCE_POSTGRES_DSN=postgres://db.test.invalid/s", "SURFACES_CLUSTER_GRAINS=true", "SURFACES_MATRIX_ENCRYPTION=default",
			"MATRIX_PASSWORD=pw", "SURFACES_MATRIX_MODE=appservice", "SURFACES_MATRIX_APPSERVICE_REGISTRATION=/r.yaml", "SURFACES_CLUSTER_MEMBER_ID=m1"), mutate: func(c *Config) { c.Matrix.AccessToken = "" },
			key: "cluster.grains", kind: ErrInvalidValue, fragments: []string{"matrix.mode: client", "matrix.encryption: off"}},
		{name: "grains listening nowhere", env: withEnv("SURFACES_CLUSTER_ENABLED=true", "SURFACES_PERSISTENCE_BACKEND=postgres",
			"SURFACES_PERSISTENCE_POSTGRES_DSN=postgres://db.test.invalid/s", "SURFACES_CLUSTER_GRAINS=true", "SURFACES_MATRIX_ENCRYPTION=off", "SURFACES_CLUSTER_LISTEN=nowhere"),
			key: "cluster.listen", kind: ErrInvalidValue, fragments: []string{"host:port"}},
		{name: "missing registry", mutate: func(c *Config) { c.Agents.RegistryPath = "" },
			key: "agents.registry_path", kind: ErrMissing, fragments: []string{"MATRIX_AGENT_REGISTRY_PATH"}},
		{name: "missing workspace", mutate: func(c *Config) { c.Workspace.Dir = " " },
			key: "workspace.dir", kind: ErrMissing, fragments: []string{"SURFACES_WORKSPACE_DIR"}},
		{name: "missing state path", mutate: func(c *Config) { c.State.Path = "" },
			key: "state.path", kind: ErrMissing},
		{name: "homeserver not a URL", env: withEnv("MATRIX_HOMESERVER=matrix.test.invalid"),
			key: "matrix.homeserver", kind: ErrInvalidValue, fragments: []string{"env MATRIX_HOMESERVER", "absolute http/https URL"}},
		{name: "homeserver bad scheme", mutate: func(c *Config) { c.Matrix.Homeserver = "ftp://matrix.test.invalid" },
			key: "matrix.homeserver", kind: ErrInvalidValue, fragments: []string{"http/https"}},
		{name: "user id without server", mutate: func(c *Config) { c.Matrix.UserID = "@bot" },
			key: "matrix.user_id", kind: ErrInvalidValue, fragments: []string{"not a Matrix user id"}},
		{name: "user id without sigil", mutate: func(c *Config) { c.Matrix.UserID = "bot:test.invalid" },
			key: "matrix.user_id", kind: ErrInvalidValue},
		{name: "bad allowed server", mutate: func(c *Config) { c.Matrix.AllowedServers = []string{"ok.test.invalid", "@bad:x"} },
			key: "matrix.allowed_servers", kind: ErrInvalidValue, fragments: []string{"item 2"}},
		{name: "bad unassigned policy", env: withEnv("SURFACES_AGENTS_UNASSIGNED=maybe"),
			key: "agents.unassigned", kind: ErrInvalidValue, fragments: []string{`"maybe" is not one of default, deny`}},
		{name: "bad base url", env: withEnv("AGENT_BASE_URL=agents:7000"),
			key: "agents.base_url", kind: ErrInvalidValue, fragments: []string{"env AGENT_BASE_URL"}},
		{name: "zero connect timeout", env: withEnv("SURFACES_AGENTS_CONNECT_TIMEOUT=0s"),
			key: "agents.connect_timeout", kind: ErrInvalidValue, fragments: []string{"positive duration"}},
		{name: "negative status timeout", mutate: func(c *Config) { c.Agents.StatusTimeout = -1 },
			key: "agents.status_timeout", kind: ErrInvalidValue},
		{name: "zero turn idle timeout", mutate: func(c *Config) { c.Agents.TurnIdleTimeout = 0 },
			key: "agents.turn_idle_timeout", kind: ErrInvalidValue},
		{name: "zero idle close", mutate: func(c *Config) { c.Agents.IdleClose = 0 },
			key: "agents.idle_close", kind: ErrInvalidValue},
		{name: "zero edit interval", mutate: func(c *Config) { c.Streaming.EditInterval = 0 },
			key: "streaming.edit_interval", kind: ErrInvalidValue},
		{name: "zero typing refresh", mutate: func(c *Config) { c.Streaming.TypingRefresh = 0 },
			key: "streaming.typing_refresh", kind: ErrInvalidValue},
		{name: "negative typing delay", mutate: func(c *Config) { c.Streaming.TypingAfter = -1 },
			key: "streaming.typing_after", kind: ErrInvalidValue},
		{name: "zero grace", mutate: func(c *Config) { c.Shutdown.Grace = 0 },
			key: "shutdown.grace", kind: ErrInvalidValue},
		{name: "zero file size", env: withEnv("SURFACES_WORKSPACE_MAX_FILE_SIZE=0"),
			key: "workspace.max_file_size", kind: ErrInvalidValue},
		{name: "message too large", env: withEnv("SURFACES_STREAMING_MAX_MESSAGE_BYTES=64KiB"),
			key: "streaming.max_message_bytes", kind: ErrInvalidValue, fragments: []string{"one Matrix event"}},
		{name: "bad listen", env: withEnv("SURFACES_HTTP_LISTEN=8080"),
			key: "http.listen", kind: ErrInvalidValue, fragments: []string{"host:port"}},
		{name: "bad listen port", mutate: func(c *Config) { c.HTTP.Listen = "127.0.0.1:99999" },
			key: "http.listen", kind: ErrInvalidValue, fragments: []string{"invalid port"}},
		{name: "bad locale", env: withEnv("SURFACES_LOCALE=fr"),
			key: "locale", kind: ErrInvalidValue, fragments: []string{`"fr" is not one of en, ru`}},
		{name: "bad log level", mutate: func(c *Config) { c.Log.Level = "loud" },
			key: "log.level", kind: ErrInvalidValue},
		{name: "bad log format", mutate: func(c *Config) { c.Log.Format = "xml" },
			key: "log.format", kind: ErrInvalidValue},
		{name: "zero queue", mutate: func(c *Config) { c.Queue.Size = 0 },
			key: "queue.size", kind: ErrInvalidValue},
		{name: "zero rate", mutate: func(c *Config) { c.RateLimit.Rate = 0 },
			key: "rate_limit.rate", kind: ErrInvalidValue},
		{name: "zero burst", mutate: func(c *Config) { c.RateLimit.Burst = 0 },
			key: "rate_limit.burst", kind: ErrInvalidValue},
		{name: "negative send rate", mutate: func(c *Config) { c.Matrix.SendRate = -1 },
			key: "matrix.send_rate", kind: ErrInvalidValue},
		{name: "zero send burst", mutate: func(c *Config) { c.Matrix.SendRate, c.Matrix.SendBurst = 10, 0 },
			key: "matrix.send_burst", kind: ErrInvalidValue},
		{name: "unknown encryption policy", mutate: func(c *Config) { c.Matrix.Encryption = "always" },
			key: "matrix.encryption", kind: ErrInvalidValue},
		{name: "encryption without a pickle key", mutate: func(c *Config) { c.Matrix.PickleKey = "" },
			key: "matrix.pickle_key", kind: ErrMissing},
		{name: "short pickle key", mutate: func(c *Config) { c.Matrix.PickleKey = "short" },
			key: "matrix.pickle_key", kind: ErrInvalidValue},
		{name: "zero key wait", mutate: func(c *Config) { c.Matrix.KeyWait = 0 },
			key: "matrix.key_wait", kind: ErrInvalidValue},
		{name: "not a recovery key", mutate: func(c *Config) { c.Matrix.RecoveryKey = "hunter2hunter2" },
			key: "matrix.recovery_key", kind: ErrInvalidValue},
		{name: "empty space template", mutate: func(c *Config) { c.Onboarding.SpaceNameTemplate = "" },
			key: "onboarding.space_name_template", kind: ErrMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env
			if env == nil {
				env = validEnv()
			}
			c, err := Load(LoadOptions{Env: env, SkipValidation: true})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if tc.mutate != nil {
				tc.mutate(c)
			}
			err = c.Validate()
			wantProblem(t, err, tc.key, tc.kind, tc.fragments...)
			if n := len(problemsOf(t, err)); n != 1 {
				t.Fatalf("got %d problems, want only the one for %s:\n%v", n, tc.key, err)
			}
		})
	}
}

func TestPlaceholdersRejected(t *testing.T) {
	tests := []struct {
		name string
		env  string
		key  string
	}{
		{"CHANGE_ME password", "MATRIX_PASSWORD=CHANGE_ME", "matrix.password"},
		{"CHANGE_ME pickle key", "SURFACES_MATRIX_PICKLE_KEY=CHANGE_ME", "matrix.pickle_key"},
		{"changeme in a path", "SURFACES_WORKSPACE_DIR=/agents/changeme", "workspace.dir"},
		{"change-me mixed case", "MATRIX_DEVICE_ID=Change-Me", "matrix.device_id"},
		{"replace me", "SURFACES_STATE_PATH=/data/REPLACE_ME", "state.path"},
		{"angle brackets", "MATRIX_HOMESERVER=https://<your-homeserver>", "matrix.homeserver"},
		{"angle brackets user id", "MATRIX_USER_ID=@<bot>:test.invalid", "matrix.user_id"},
		{"example.org homeserver", "MATRIX_HOMESERVER=https://matrix.example.org", "matrix.homeserver"},
		{"example.com homeserver", "MATRIX_HOMESERVER=https://example.com:8448", "matrix.homeserver"},
		{"example.org user id", "MATRIX_USER_ID=@bot:example.org", "matrix.user_id"},
		{"example.net user id with port", "MATRIX_USER_ID=@bot:matrix.example.net:8448", "matrix.user_id"},
		{"dummy token", "MATRIX_ACCESS_TOKEN=syt_...", "matrix.access_token"},
		{"dummy token x", "MATRIX_ACCESS_TOKEN=syt_xxxxxxxx", "matrix.access_token"},
		{"ellipsis token", "MATRIX_ACCESS_TOKEN=…", "matrix.access_token"},
		{"example base url", "AGENT_BASE_URL=http://agents.example.org:7000/", "agents.base_url"},
		{"example allowed server", "SURFACES_MATRIX_ALLOWED_SERVERS=test.invalid,example.org", "matrix.allowed_servers"},
		{"change me in free text", "SURFACES_AGENTS_DENY_MESSAGE=CHANGE ME", "agents.deny_message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(LoadOptions{Env: withEnv(tc.env)})
			wantProblem(t, err, tc.key, ErrPlaceholder, "env ")
		})
	}
}

func TestNotPlaceholders(t *testing.T) {
	for _, env := range []string{
		"SURFACES_AGENTS_DENY_MESSAGE=Use <b>another</b> bot",
		"SURFACES_ONBOARDING_SPACE_NAME_TEMPLATE=<{name}>",
		"MATRIX_HOMESERVER=https://notexample.org",
		"MATRIX_USER_ID=@example.org:test.invalid",
		"MATRIX_ACCESS_TOKEN=syt_c3VyZmFjZXM_AbCdEfGhIjKlMnOp_0XyZ12",
		"MATRIX_HOMESERVER=http://localhost:8008",
		"SURFACES_MATRIX_ALLOWED_SERVERS=matrix.org, localhost:8448",
	} {
		t.Run(env, func(t *testing.T) {
			if _, err := Load(LoadOptions{Env: withEnv(env)}); err != nil {
				t.Fatalf("Load: %v", err)
			}
		})
	}
}

// A placeholder secret is reported without echoing the value.
func TestSecretPlaceholderNotEchoed(t *testing.T) {
	_, err := Load(LoadOptions{Env: withEnv("MATRIX_PASSWORD=hunter2-CHANGE_ME")})
	wantProblem(t, err, "matrix.password", ErrPlaceholder)
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error echoes the secret: %v", err)
	}
}

// With encryption off no pickle key is needed.
func TestEncryptionOffNeedsNoPickleKey(t *testing.T) {
	var env []string
	for _, kv := range validEnv() {
		if !strings.HasPrefix(kv, "SURFACES_MATRIX_PICKLE_KEY=") {
			env = append(env, kv)
		}
	}
	if _, err := Load(LoadOptions{Env: env}); err == nil {
		t.Fatal("loaded without a pickle key while encryption is allowed")
	}
	c := mustLoad(t, LoadOptions{Env: append(env, "SURFACES_MATRIX_ENCRYPTION=off")})
	if c.Matrix.Encryption != EncryptionOff {
		t.Fatalf("encryption %q, want off", c.Matrix.Encryption)
	}
}

// A recovery key as the bot prints it passes.
func TestRecoveryKeyAsPrinted(t *testing.T) {
	c := mustLoad(t, LoadOptions{Env: withEnv("SURFACES_MATRIX_RECOVERY_KEY=EsTc 8N9n Rs5N KjXU Z8Rg gn8D 3dPv Ju2o HQwB 5ZTn Vzqr ebCq")})
	if c.Matrix.RecoveryKey.Reveal() == "" {
		t.Fatal("the recovery key was not loaded")
	}
}

// Appservice mode authenticates with the registration's tokens: no
// password or access token is needed, and the defaults fill the listener.
func TestAppserviceModeNeedsNoPassword(t *testing.T) {
	var env []string
	for _, kv := range validEnv() {
		if !strings.HasPrefix(kv, "MATRIX_PASSWORD=") && !strings.HasPrefix(kv, "MATRIX_ACCESS_TOKEN=") {
			env = append(env, kv)
		}
	}
	c := mustLoad(t, LoadOptions{Env: append(env, "SURFACES_MATRIX_MODE=appservice", "SURFACES_MATRIX_ENCRYPTION=off",
		"SURFACES_MATRIX_APPSERVICE_AS_TOKEN=as", "SURFACES_MATRIX_APPSERVICE_HS_TOKEN=hs")})
	if c.Matrix.Mode != ModeAppservice || c.Matrix.Appservice.Listen != "127.0.0.1:8090" ||
		c.Matrix.Appservice.ASToken.Reveal() != "as" || c.Matrix.Appservice.HSToken.Reveal() != "hs" {
		t.Fatalf("loaded %+v", c.Matrix)
	}
}

// A cluster with grains and encryption whose members log in with the
// password (each as a device of its own) is valid.
func TestGrainsWithEncryptionAndAPassword(t *testing.T) {
	c, err := Load(LoadOptions{Env: withEnv("SURFACES_CLUSTER_ENABLED=true", "SURFACES_PERSISTENCE_BACKEND=postgres",
		"SURFACES_PERSISTENCE_POSTGRES_DSN=postgres://db.test.invalid/s", "SURFACES_CLUSTER_GRAINS=true", "SURFACES_MATRIX_ENCRYPTION=default",
		"MATRIX_PASSWORD=pw", "SURFACES_CLUSTER_MEMBER_ID=m1"), SkipValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Matrix.AccessToken = ""
	if err := c.Validate(); err != nil {
		t.Fatalf("grains with encryption and a password login: %v", err)
	}
}
