package pgstore

import (
	"errors"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/persistence"
)

// Sentinel errors. The ones shared with the Badger store are the same
// values, so callers test for them without knowing the backend.
var (
	// ErrNotFound is actors.ErrNotFound: a record does not exist.
	ErrNotFound = persistence.ErrNotFound
	// ErrClosed is returned by every method called after Close.
	ErrClosed = persistence.ErrClosed
	// ErrInvalidRecord is returned when a write is refused because the
	// record lacks its identity or holds an impossible value.
	ErrInvalidRecord = persistence.ErrInvalidRecord
	// ErrCorrupt is returned when a stored value cannot be decoded.
	ErrCorrupt = persistence.ErrCorrupt
	// ErrLocked is returned by Open when another process holds the
	// database exclusively (a running bot).
	ErrLocked = persistence.ErrLocked
	// ErrStaleEpoch is actors.ErrStaleEpoch: a room record written by an
	// activation that another has replaced.
	ErrStaleEpoch = actors.ErrStaleEpoch
	// ErrUnsupportedVersion is returned when a record was written by a
	// newer binary.
	ErrUnsupportedVersion = persistence.ErrUnsupportedVersion

	// ErrSchemaNewer is returned by Open when the database was migrated by
	// a newer binary: this one would misread it.
	ErrSchemaNewer = errors.New("the database schema is newer than this binary")
	// ErrUnreachable is returned by Open when no connection to the server
	// could be made.
	ErrUnreachable = errors.New("PostgreSQL cannot be reached")
	// ErrMemberTaken is returned by Join when a running process is the
	// member of that id already.
	ErrMemberTaken = errors.New("another running member has this member id")
	// ErrMemberLost says a member's database session ended: its locks are
	// released, so it holds no ingress any more.
	ErrMemberLost = errors.New("the member's database session was lost")
)
