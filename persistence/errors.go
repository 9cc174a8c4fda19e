package persistence

import (
	"errors"

	"github.com/surfaces-bot/surfaces/actors"
)

// Sentinel errors. Every error a Store method returns wraps one of these or
// an underlying Badger or encoding error, and names the key it concerns.
var (
	// ErrNotFound is returned (wrapped with the key) when a record does not
	// exist. It is actors.ErrNotFound so that actors can test for it without
	// importing this package.
	ErrNotFound = actors.ErrNotFound

	// ErrLocked is returned by Open when another process (a running bot)
	// holds the directory.
	ErrLocked = errors.New("the state directory is in use by another process")

	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("store is closed")

	// ErrUnsupportedVersion is returned when a stored value was written with
	// a newer schema version than this binary understands (a downgrade).
	ErrUnsupportedVersion = errors.New("unsupported schema version")

	// ErrCorrupt is returned when a stored value or key cannot be decoded.
	ErrCorrupt = errors.New("corrupt record")

	// ErrInvalidRecord is returned when a write is refused because the
	// record lacks its identity (an empty id) or holds an impossible value.
	// It is actors.ErrInvalidRecord, which RoomRecord.Validate wraps.
	ErrInvalidRecord = actors.ErrInvalidRecord

	// ErrTooManyConflicts is returned when a read-modify-write transaction
	// kept conflicting with concurrent writers and was given up.
	ErrTooManyConflicts = errors.New("too many transaction conflicts")
)
