package persistence

import (
	"encoding/json"
	"fmt"
)

// Every stored value is JSON wrapped in an envelope that carries the schema
// version of its payload: {"v":1,"data":{...}}. Adding a field to a record
// keeps the version (encoding/json ignores unknown fields and zero-fills
// missing ones); renaming or re-typing a field bumps the record's version and
// adds a migration in decodeValue. A value with a version newer than the
// binary knows is refused rather than half-read, so a downgrade fails loudly
// instead of silently dropping fields on the next write.

// Current schema versions, one per record kind.
const (
	versionUser     = 1
	versionRoom     = 1
	versionSaved    = 1
	versionSequence = 1
	versionString   = 1
	versionEvent    = 1
	versionLayout   = 1
	versionInbox    = 1
)

// envelope is the stored form of every value.
type envelope struct {
	V    int             `json:"v"`
	Data json.RawMessage `json:"data"`
}

// sequenceValue is the payload of keySequence.
type sequenceValue struct {
	Last uint64 `json:"last"`
}

// stringValue is the payload of sync tokens, filter ids and meta values.
type stringValue struct {
	Value string `json:"value"`
}

// eventValue is the payload of a handled-event mark.
type eventValue struct {
	HandledAtUnix int64 `json:"handled_at_unix"`
}

// layoutValue is the payload of keyLayout.
type layoutValue struct {
	Layout int `json:"layout"`
}

// encodeValue wraps v in an envelope of the given version.
func encodeValue[T any](key []byte, version int, v T) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("failed to encode value of %q: %w", key, err)
	}
	out, err := json.Marshal(envelope{V: version, Data: data})
	if err != nil {
		return nil, fmt.Errorf("failed to encode envelope of %q: %w", key, err)
	}
	return out, nil
}

// decodeValue unwraps an envelope written with a version up to current.
// Versions below current would be migrated here; version 1 is the first, so
// there is nothing to migrate yet.
func decodeValue[T any](key, raw []byte, current int) (T, error) {
	var zero T
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return zero, fmt.Errorf("failed to decode envelope of %q: %w: %w", key, ErrCorrupt, err)
	}
	switch {
	case env.V > current:
		return zero, fmt.Errorf("failed to decode %q: version %d is newer than %d: %w", key, env.V, current, ErrUnsupportedVersion)
	case env.V < 1:
		return zero, fmt.Errorf("failed to decode %q: missing or invalid version %d: %w", key, env.V, ErrCorrupt)
	case len(env.Data) == 0:
		return zero, fmt.Errorf("failed to decode %q: envelope has no data: %w", key, ErrCorrupt)
	}
	var v T
	if err := json.Unmarshal(env.Data, &v); err != nil {
		return zero, fmt.Errorf("failed to decode value of %q: %w: %w", key, ErrCorrupt, err)
	}
	return v, nil
}
