package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/persistence"
)

// Store implements actors.Store on PostgreSQL.
var (
	_ actors.Store      = (*Store)(nil)
	_ actors.ChatIDLock = (*Store)(nil)
)

// Options tunes a Store. The zero value is the production setting.
type Options struct {
	// EventTTL is how long MarkEventHandled remembers an event id; 0 means
	// persistence.DefaultEventTTL. Negative is an error.
	EventTTL time.Duration
	// MaxConns bounds the pool's connections; 0 means 8 (room actors write
	// from many goroutines, but each write is one short statement).
	MaxConns int32
	// Shared lets other processes open the database at the same time. By
	// default a Store holds the database exclusively for its lifetime (a
	// session advisory lock on a connection of its own), as Badger holds
	// its directory: a second bot, or an operator tool beside a running
	// bot, gets ErrLocked instead of handling the same events.
	Shared bool
	// LockWait is how long Open and Join wait for a lock another session
	// holds before they refuse (ErrLocked, ErrMemberTaken): a process
	// killed with SIGKILL holds its locks until the server ends its
	// session, a moment after, and a bot restarted at once would refuse to
	// start. 0 means DefaultLockWait; negative, no wait.
	LockWait time.Duration
}

// DefaultLockWait is Options.LockWait's default: far longer than a server
// takes to end the session of a process that died, short enough for a
// real second process to be told at once.
const DefaultLockWait = 5 * time.Second

// lockWait is opts.LockWait with its default.
func (o Options) lockWait() time.Duration {
	switch {
	case o.LockWait == 0:
		return DefaultLockWait
	case o.LockWait < 0:
		return 0
	}
	return o.LockWait
}

// whileRefused calls try until it takes its lock (refused false), fails,
// or wait has passed, pausing a little longer each time; it returns try's
// last answer.
func whileRefused(ctx context.Context, wait time.Duration, try func() (refused bool, err error)) (bool, error) {
	deadline := time.Now().Add(wait)
	for pause := 25 * time.Millisecond; ; pause = min(2*pause, 400*time.Millisecond) {
		refused, err := try()
		if err != nil || !refused || time.Now().Add(pause).After(deadline) {
			return refused, err
		}
		select {
		case <-ctx.Done():
			return refused, ctx.Err()
		case <-time.After(pause):
		}
	}
}

// Store is the PostgreSQL-backed durable state. Create it with Open.
type Store struct {
	pool     *pgxpool.Pool
	eventTTL time.Duration
	// lockWait is Options.LockWait, for Join.
	lockWait time.Duration

	// mu guards closed; methods hold it for reading while they run, so
	// that Close waits for them.
	mu     sync.RWMutex
	closed bool

	stopExpiry context.CancelFunc
	expiryDone chan struct{}
	// holder is the connection holding the exclusive lock, out of the
	// pool (nil when Options.Shared).
	holder *pgx.Conn
}

// Open connects to the database dsn names (a postgres:// URL or key=value
// DSN), brings its schema to SchemaVersion and starts expiring old event
// marks. A server that does not answer within ctx is ErrUnreachable; a
// schema newer than the binary is ErrSchemaNewer.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.EventTTL < 0 {
		return nil, fmt.Errorf("failed to open store: negative event TTL %s", opts.EventTTL)
	}
	if opts.EventTTL == 0 {
		opts.EventTTL = persistence.DefaultEventTTL
	}
	if opts.MaxConns == 0 {
		opts.MaxConns = 8
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message quotes the DSN, password included: say only that
		// it did not parse.
		return nil, errors.New("failed to open store: the PostgreSQL DSN does not parse")
	}
	cfg.MaxConns = opts.MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to open store: %w", err)
	}
	from, err := withConn(ctx, pool, migrate)
	if err != nil {
		pool.Close()
		if errors.Is(err, ErrSchemaNewer) {
			return nil, err
		}
		if isConnectError(err) {
			return nil, fmt.Errorf("failed to open store on %s:%d: %w: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, ErrUnreachable, err)
		}
		return nil, fmt.Errorf("failed to open store: %w", err)
	}
	var holder *pgx.Conn
	if !opts.Shared {
		if holder, err = lockExclusive(ctx, pool, opts.lockWait()); err != nil {
			pool.Close()
			return nil, err
		}
	}
	expiryCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s := &Store{pool: pool, eventTTL: opts.EventTTL, lockWait: opts.lockWait(), stopExpiry: stop, expiryDone: make(chan struct{}), holder: holder}
	s.expireEventsOnce(ctx)
	go s.expireEvents(expiryCtx)
	zerolog.Ctx(ctx).Debug().Str("host", cfg.ConnConfig.Host).Str("database", cfg.ConnConfig.Database).
		Int("schema_from", from).Int("schema", SchemaVersion).Msg("store opened")
	return s, nil
}

// lockExclusive takes the exclusive lock on a connection it takes out of
// the pool, so that the pool never recycles the session holding it.
func lockExclusive(ctx context.Context, pool *pgxpool.Pool, wait time.Duration) (*pgx.Conn, error) {
	pooled, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to open store: %w", err)
	}
	conn := pooled.Hijack()
	refused, err := whileRefused(ctx, wait, func() (bool, error) {
		var got bool
		err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockExclusiveUse).Scan(&got)
		return !got, err
	})
	if err == nil && refused {
		err = ErrLocked
	}
	if err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("failed to open store: %w", err)
	}
	return conn, nil
}

// withConn runs fn on one connection of pool (a session: advisory locks
// taken by fn are released on the same connection).
func withConn[T any](ctx context.Context, pool *pgxpool.Pool, fn func(context.Context, *pgx.Conn) (T, error)) (T, error) {
	var out T
	err := pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error {
		var err error
		out, err = fn(ctx, c.Conn())
		return err
	})
	return out, err
}

// isConnectError tells a server that could not be reached from one that
// answered with an error (a refused password, a missing database).
func isConnectError(err error) bool {
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	return (errors.As(err, &ce) || errors.Is(err, context.DeadlineExceeded)) && !errors.As(err, &pe)
}

// Close stops the expiry of event marks, waits for the methods in flight
// and closes the pool. Later calls return ErrClosed; closing twice is a
// no-op.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.stopExpiry()
	<-s.expiryDone
	if s.holder != nil {
		// Released before the session closes, not by its end, which the
		// server reaches a moment after Close returns (closeSession).
		if err := closeSession(context.Background(), s.holder); err != nil {
			s.pool.Close()
			return fmt.Errorf("failed to release the database: %w", err)
		}
	}
	s.pool.Close()
	return nil
}

// Wipe deletes every row of every table in the database's schema, for
// `surfaces reset --mode local-only`: the records, and the crypto store's
// keys, which share the database (as a local reset deletes crypto.db
// beside Badger's files). The schema versions stay. The platform_chat_id
// sequence restarts, as persistence.Store.Wipe's does: a local reset
// forgets every room that used the old ids, and the homeserver's
// reservation still keeps them from coming back.
func (s *Store) Wipe(ctx context.Context) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var tables string
		err := tx.QueryRow(ctx, `SELECT coalesce(string_agg(format('%I', tablename), ', '), '') FROM pg_tables
			WHERE schemaname = current_schema() AND tablename <> 'surfaces_schema' AND tablename NOT LIKE '%version'`).Scan(&tables)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `TRUNCATE `+tables); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `ALTER SEQUENCE platform_chat_id RESTART`)
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to wipe store: %w", err)
	}
	return nil
}

// do runs fn unless the store is closed or ctx is done, holding s.mu for
// reading so that Close waits for it.
func (s *Store) do(ctx context.Context, fn func(context.Context) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fn(ctx)
}

// tx runs fn in one transaction on the pool, committed when fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.do(ctx, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.pool, fn)
	})
}

// encodeRecord is the stored form of a record: its JSON, with the version
// beside it.
func encodeRecord(what string, v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("failed to encode %s: %w", what, err)
	}
	return raw, nil
}

// decodeRecord reads a record written at version, up to current.
func decodeRecord[T any](what string, version int, raw []byte, current int) (T, error) {
	var v T
	switch {
	case version > current:
		return v, fmt.Errorf("failed to decode %s: version %d is newer than %d: %w", what, version, current, ErrUnsupportedVersion)
	case version < 1:
		return v, fmt.Errorf("failed to decode %s: invalid version %d: %w", what, version, ErrCorrupt)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("failed to decode %s: %w: %w", what, ErrCorrupt, err)
	}
	return v, nil
}

// Record versions, as persistence's envelope versions: adding a field keeps
// the version; renaming or re-typing one bumps it and adds a migration in
// decodeRecord.
const (
	versionUser  = 1
	versionRoom  = 1
	versionSaved = 1
)
