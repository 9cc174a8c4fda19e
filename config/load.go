package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// LoadOptions are Load's inputs. Nothing else is read: not the process
// environment, not a default file path.
type LoadOptions struct {
	// ConfigPath is the YAML file named on the command line. It wins over
	// SURFACES_CONFIG in Env; with neither, no file is read and the
	// configuration comes from defaults and Env alone.
	ConfigPath string
	// Env is the environment as os.Environ returns it ("NAME=value").
	// Empty values count as unset, so that an env file's "MATRIX_PASSWORD="
	// line does not override the YAML file with nothing.
	Env []string
	// SkipValidation returns the loaded configuration without Validate.
	// Unknown keys and undecodable values are still errors.
	SkipValidation bool
}

// loadMeta is what Load learned besides the values.
type loadMeta struct {
	// file is the YAML file that was read, "" for none.
	file string
	// sources maps a key to where its value came from; keys that kept their
	// built-in default are absent.
	sources map[string]string
	// unknownEnv lists SURFACES_ names that matched no key.
	unknownEnv []string
}

// Load builds the configuration from defaults, then the YAML file, then the
// environment, and validates it. Any problem is returned as one
// *ValidationError listing them all; a file that cannot be read or parsed
// is an error naming the file.
func Load(opts LoadOptions) (*Config, error) {
	c := Defaults()
	c.meta = &loadMeta{sources: map[string]string{}}
	var ps problems

	path := opts.ConfigPath
	if path == "" {
		path, _ = lookupEnv(opts.Env, EnvConfigPath)
	}
	if path != "" {
		c.meta.file = path
		fk := koanf.New(".")
		if err := fk.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("failed to load config file %q: %w", path, err)
		}
		applyLayer(c, fk.All(), func(string) string { return fmt.Sprintf("file %q", path) }, &ps)
	}

	// Two passes over the environment make the precedence explicit: the
	// seed's names first, the SURFACES_ names last, so that when both are
	// set the canonical name wins whatever the order of the environment.
	for _, names := range []map[string]string{legacyEnv, canonicalEnv()} {
		from := map[string]string{}
		ek := koanf.New(".")
		err := ek.Load(env.Provider(".", env.Opt{
			EnvironFunc: func() []string { return opts.Env },
			TransformFunc: func(name, value string) (string, any) {
				key, ok := names[name]
				if !ok || value == "" {
					return "", nil
				}
				from[key] = "env " + name
				return key, value
			},
		}), nil)
		if err != nil {
			return nil, fmt.Errorf("failed to load environment: %w", err)
		}
		applyLayer(c, ek.All(), func(key string) string { return from[key] }, &ps)
	}
	c.meta.unknownEnv = unknownSurfacesEnv(opts.Env)

	if !opts.SkipValidation {
		c.validate(&ps)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// applyLayer decodes one layer's flattened values onto c, recording where
// each came from. Keys are applied in sorted order so that problems come
// out in a stable order.
func applyLayer(c *Config, flat map[string]any, source func(key string) string, ps *problems) {
	for _, key := range slices.Sorted(maps.Keys(flat)) {
		raw := flat[key]
		src := source(key)
		f, known := lookupField(key)
		switch {
		case known && raw == nil:
			// "key:" with no value in YAML: unset, keep the lower layer.
		case known:
			if err := setField(c, f, raw); err != nil {
				ps.add(Problem{Key: key, Source: src, Detail: err.Error(), Err: ErrInvalidValue})
				continue
			}
			c.meta.sources[key] = src
		case isSection(key):
			// An empty or null section ("streaming:" alone) sets nothing;
			// a section given a plain value is a mistake.
			if m, ok := raw.(map[string]any); raw != nil && (!ok || len(m) != 0) {
				ps.add(Problem{Key: key, Source: src, Detail: "want a mapping of keys, got " + describe(raw), Err: ErrInvalidValue})
			}
		default:
			ps.add(unknownKeyProblem(key, src))
		}
	}
}

// unknownKeyProblem explains an unknown key, with a suggestion for typos
// and a hint when a single-value key was given a nested mapping.
func unknownKeyProblem(key, src string) Problem {
	detail := "unknown key"
	for parent := key; strings.Contains(parent, "."); {
		parent = parent[:strings.LastIndexByte(parent, '.')]
		if f, ok := lookupField(parent); ok {
			want := "a single value"
			if f.typ == typeStrings {
				want = "a list"
			}
			return Problem{Key: parent, Source: src, Detail: "want " + want + ", got a mapping", Err: ErrInvalidValue}
		}
	}
	if near := closestKey(key); near != "" {
		detail += fmt.Sprintf(" (did you mean %q?)", near)
	}
	return Problem{Key: key, Source: src, Detail: detail, Err: ErrUnknownKey}
}

// File returns the YAML file Load read, or "" when there was none.
func (c *Config) File() string {
	if c.meta == nil {
		return ""
	}
	return c.meta.file
}

// Source tells where key's value came from: `file "path"`, "env NAME", or
// "default" when it kept the built-in default.
func (c *Config) Source(key string) string {
	if c.meta != nil {
		if s, ok := c.meta.sources[key]; ok {
			return s
		}
	}
	return "default"
}

// UnknownEnv lists SURFACES_ environment names that set no key, most likely
// typos; the caller may log them. Nil for a Config not made by Load.
func (c *Config) UnknownEnv() []string {
	if c.meta == nil {
		return nil
	}
	return slices.Clone(c.meta.unknownEnv)
}

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
