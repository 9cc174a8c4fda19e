package config

import (
	"strings"
)

// EnvConfigPath names the YAML file to load when no path is passed in.
const EnvConfigPath = "SURFACES_CONFIG"

// legacyEnv maps the seed's environment names to keys (PRODUCT R5.4). The
// seed's SURFACES_WORKSPACE_DIR, SURFACES_STATE_PATH, SURFACES_HTTP_LISTEN
// and SURFACES_LOCALE need no entry: they are the canonical names of their
// keys already.
var legacyEnv = map[string]string{
	"MATRIX_HOMESERVER":          "matrix.homeserver",
	"MATRIX_USER_ID":             "matrix.user_id",
	"MATRIX_ACCESS_TOKEN":        "matrix.access_token",
	"MATRIX_PASSWORD":            "matrix.password",
	"MATRIX_DEVICE_ID":           "matrix.device_id",
	"MATRIX_AGENT_REGISTRY_PATH": "agents.registry_path",
	"AGENT_BASE_URL":             "agents.base_url",
}

// canonicalEnv maps every SURFACES_ name to its key. It is built from the
// field table rather than by splitting names on "_": keys contain
// underscores themselves (streaming.edit_interval), so
// SURFACES_STREAMING_EDIT_INTERVAL could not be split unambiguously, but it
// can be looked up exactly. A test checks that no two keys share a name.
func canonicalEnv() map[string]string {
	m := make(map[string]string, len(fields()))
	for _, f := range fields() {
		m[f.env] = f.key
	}
	return m
}

// envNamesOf lists the environment names that set key, canonical first.
func envNamesOf(key string) []string {
	var names []string
	if f, ok := lookupField(key); ok {
		names = append(names, f.env)
	}
	for name, k := range legacyEnv {
		if k == key {
			names = append(names, name)
		}
	}
	return names
}

// lookupEnv returns the value of name in env ("KEY=value" entries); the
// last entry wins, as with os.Getenv after duplicate assignments.
func lookupEnv(env []string, name string) (string, bool) {
	val, found := "", false
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			val, found = v, true
		}
	}
	return val, found
}

// unknownSurfacesEnv lists SURFACES_ names in env that set no key: most
// likely typos, which the caller may want to warn about. They are not an
// error because other tools (test harnesses, scripts) share the prefix.
func unknownSurfacesEnv(env []string) []string {
	canon := canonicalEnv()
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || name == EnvConfigPath {
			continue
		}
		if _, ok := canon[name]; !ok {
			out = append(out, name)
		}
	}
	return out
}
