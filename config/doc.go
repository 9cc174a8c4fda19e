// Package config is the configuration of the whole surfaces binary: one
// typed Config with a section per concern, loaded with koanf from built-in
// defaults, then an optional YAML file, then the environment (PRODUCT R5.4).
//
// Every key has a SURFACES_ environment override named after its path
// (streaming.edit_interval is SURFACES_STREAMING_EDIT_INTERVAL), and the
// seed's variable names (MATRIX_HOMESERVER, AGENT_BASE_URL, ...) still work;
// see env.go. The loader never reads the process environment itself: the
// caller passes it in, so that only cmd/ touches os.Environ and tests stay
// hermetic.
//
// Loading is strict on purpose: an unknown key in the file, a value of the
// wrong type, a placeholder copied from the example and never replaced, or a
// missing required value all fail start-up with one error that names every
// offending key and where its value came from. A bot that starts with a
// half-understood config fails later, in front of users.
//
// Concurrency contract: Load and Validate are pure functions of their
// inputs. A *Config is a plain value: read it from any number of goroutines,
// but do not mutate one that others are reading. Secrets are of type Secret,
// which never prints or marshals its value, so logging a Config or a section
// of it cannot leak them.
package config
