package persistence

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
)

// Store implements actors.Store on Badger.
var _ actors.Store = (*Store)(nil)

// DefaultEventTTL is how long a handled event id is remembered. Matrix
// redelivers an event only around a restart (a sync token that was not yet
// saved), so a week is far more than needed while keeping the set small.
const DefaultEventTTL = 7 * 24 * time.Hour

// maxConflictRetries bounds the retries of a conflicting read-modify-write.
// Conflicts need another writer of the same key in the same instant; even
// with every room actor allocating ids at once, a few dozen retries suffice.
const maxConflictRetries = 100

// Options tunes a Store. The zero value is the production setting.
type Options struct {
	// EventTTL is how long MarkEventHandled remembers an event id; 0 means
	// DefaultEventTTL. Negative is an error.
	EventTTL time.Duration
	// InMemory keeps everything in RAM (dir must be ""): for tests of other
	// packages that want a real Store without a directory, and for the
	// operator tools' dry runs, which must not create one. Nothing survives
	// Close.
	InMemory bool
}

// Store is the Badger-backed durable state. Create it with Open.
type Store struct {
	db       *badger.DB
	eventTTL time.Duration

	// mu guards closed; methods hold it for reading while they run so that
	// Close waits for them and no method ever touches a closed *badger.DB
	// (which could panic inside Badger instead of returning an error).
	mu     sync.RWMutex
	closed bool

	// inboxSeq is the last inbox sequence handed out (inbox.go).
	inboxSeq atomic.Int64
}

// Open opens (creating if needed) the database in dir. ctx carries the
// zerolog logger that Badger's own log lines go to.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if opts.EventTTL < 0 {
		return nil, fmt.Errorf("failed to open store: negative event TTL %s", opts.EventTTL)
	}
	if opts.EventTTL == 0 {
		opts.EventTTL = DefaultEventTTL
	}
	if opts.InMemory && dir != "" {
		return nil, fmt.Errorf("failed to open store: in-memory store needs an empty dir, got %q", dir)
	}
	if !opts.InMemory && dir == "" {
		return nil, errors.New("failed to open store: empty directory")
	}

	bopts := badger.DefaultOptions(dir).
		WithInMemory(opts.InMemory).
		// See the package comment: durability over throughput.
		WithSyncWrites(true).
		WithLogger(newBadgerLogger(zerolog.Ctx(ctx))).
		// The bot's state is a few thousand small records: Badger's
		// defaults (64 MiB memtables x5, 256 MiB block cache, 1 GiB value
		// log files) are sized for servers and would dominate the
		// process's memory.
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(16 << 20).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithMetricsEnabled(false)

	db, err := badger.Open(bopts)
	if err != nil {
		// Badger formats the lock error without wrapping it: its text is
		// all there is to tell a running bot from a broken directory.
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("failed to open badger database in %q: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("failed to open badger database in %q: %w", dir, err)
	}
	s := &Store{db: db, eventTTL: opts.EventTTL}
	if err := s.checkLayout(ctx); err != nil {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("failed to close badger database: %w", cerr))
		}
		return nil, err
	}
	zerolog.Ctx(ctx).Debug().Str("dir", dir).Bool("in_memory", opts.InMemory).Msg("store opened")
	return s, nil
}

// Close flushes and closes the database. It waits for methods in flight;
// later calls return ErrClosed. Closing twice is a no-op.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("failed to close badger database: %w", err)
	}
	return nil
}

// Wipe deletes every record, for `surfaces reset --mode local-only`. The
// store stays open and usable (and the platform_chat_id sequence restarts,
// which is acceptable only because a local reset also forgets every room
// that used the old ids).
func (s *Store) Wipe(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("failed to wipe store: %w", err)
	}
	if err := s.db.DropAll(); err != nil {
		return fmt.Errorf("failed to wipe store: %w", err)
	}
	return s.writeLayout()
}

// usable reports why a method must not run. Callers hold s.mu for reading.
func (s *Store) usable(ctx context.Context) error {
	if s.closed {
		return ErrClosed
	}
	return ctx.Err()
}

// view runs fn in a read-only transaction.
func (s *Store) view(ctx context.Context, fn func(txn *badger.Txn) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(ctx); err != nil {
		return err
	}
	return s.db.View(fn)
}

// update runs fn in a read-write transaction and commits it, running fn
// again when the commit conflicts with a concurrent writer. fn must
// therefore be free of side effects outside txn.
func (s *Store) update(ctx context.Context, fn func(txn *badger.Txn) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for attempt := 1; ; attempt++ {
		if err := s.usable(ctx); err != nil {
			return err
		}
		err := s.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
		if attempt >= maxConflictRetries {
			return fmt.Errorf("failed after %d attempts: %w", attempt, ErrTooManyConflicts)
		}
		zerolog.Ctx(ctx).Debug().Int("attempt", attempt).Msg("store transaction conflict, retrying")
		// A short random pause breaks lock-step retries between the
		// same contenders.
		pause := time.Duration(rand.IntN(attempt*100)+1) * time.Microsecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}

// getRaw reads the raw value of key; a missing key is ErrNotFound wrapped
// with the key.
func getRaw(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("key %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read key %q: %w", key, err)
	}
	raw, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("failed to read value of %q: %w", key, err)
	}
	return raw, nil
}

// getValue reads and decodes key.
func getValue[T any](txn *badger.Txn, key []byte, version int) (T, error) {
	raw, err := getRaw(txn, key)
	if err != nil {
		var zero T
		return zero, err
	}
	return decodeValue[T](key, raw, version)
}

// setValue encodes v and writes it under key.
func setValue[T any](txn *badger.Txn, key []byte, version int, v T) error {
	raw, err := encodeValue(key, version, v)
	if err != nil {
		return err
	}
	if err := txn.Set(key, raw); err != nil {
		return fmt.Errorf("failed to write key %q: %w", key, err)
	}
	return nil
}

// checkLayout stamps a new database with the layout version and refuses
// one written by a newer binary with a different key layout.
func (s *Store) checkLayout(ctx context.Context) error {
	var stored layoutValue
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		stored, err = getValue[layoutValue](txn, []byte(keyLayout), versionLayout)
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return s.writeLayout()
	case err != nil:
		return fmt.Errorf("failed to check store layout: %w", err)
	case stored.Layout > layoutVersion:
		return fmt.Errorf("failed to check store layout: layout %d is newer than %d: %w", stored.Layout, layoutVersion, ErrUnsupportedVersion)
	}
	return nil
}

func (s *Store) writeLayout() error {
	err := s.db.Update(func(txn *badger.Txn) error {
		return setValue(txn, []byte(keyLayout), versionLayout, layoutValue{Layout: layoutVersion})
	})
	if err != nil {
		return fmt.Errorf("failed to write store layout: %w", err)
	}
	return nil
}

// badgerLogger sends Badger's own log lines to zerolog instead of Badger's
// default stderr logger, so that they share the process's format and level.
// Badger is chatty at info (table counts, compactions, value log replays):
// those are debug for an operator. Warnings stay warnings, errors errors.
type badgerLogger struct {
	log zerolog.Logger
}

var _ badger.Logger = badgerLogger{}

func newBadgerLogger(l *zerolog.Logger) badgerLogger {
	return badgerLogger{log: l.With().Str("component", "badger").Logger()}
}

// Errorf logs at error level.
func (b badgerLogger) Errorf(format string, args ...any) {
	b.emit(b.log.Error(), format, args)
}

// Warningf logs at warn level.
func (b badgerLogger) Warningf(format string, args ...any) {
	b.emit(b.log.Warn(), format, args)
}

// Infof logs at debug level (see the type comment).
func (b badgerLogger) Infof(format string, args ...any) {
	b.emit(b.log.Debug(), format, args)
}

// Debugf logs at debug level.
func (b badgerLogger) Debugf(format string, args ...any) {
	b.emit(b.log.Debug(), format, args)
}

// emit formats Badger's printf-style line once, and only when the level is
// enabled (e is nil otherwise). Badger ends lines with "\n", which a
// structured message must not carry.
func (badgerLogger) emit(e *zerolog.Event, format string, args []any) {
	if e == nil {
		return
	}
	e.Msg(strings.TrimSpace(fmt.Sprintf(format, args...)))
}
