package pgstore

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// The platform_chat_id sequence: a PostgreSQL sequence, shared by every
// process on the database. nextval is never rolled back and, because it
// gives the transaction an xid, its WAL record is flushed with the commit
// before the value reaches us, so a crash of the server cannot hand a value
// out again.

// NextPlatformChatID takes the next value of the platform_chat_id sequence
// ("1", "2", ...). It holds the sequence lock shared, so takes run
// concurrently with each other but never across a RaisePlatformChatID.
func (s *Store) NextPlatformChatID(ctx context.Context) (string, error) {
	var next int64
	err := s.do(ctx, func(ctx context.Context) error {
		// One statement, one implicit transaction: the transaction-scoped
		// lock is held until nextval's value is committed. OFFSET 0 keeps
		// the planner from folding the lock into the outer select, so the
		// lock is taken first.
		return s.pool.QueryRow(ctx, `SELECT nextval('platform_chat_id')
			FROM (SELECT pg_advisory_xact_lock_shared($1) OFFSET 0) AS locked`, lockSequence).Scan(&next)
	})
	if err != nil {
		return "", fmt.Errorf("failed to take next platform_chat_id: %w", err)
	}
	return strconv.FormatInt(next, 10), nil
}

// RaisePlatformChatID implements actors.Store: the next platform_chat_id
// handed out is above atLeast. It holds the sequence lock exclusively, so
// no take runs between reading the sequence and setting it (setval is not
// transactional: without the lock a concurrent take could be handed out
// again after a setval to a lower value).
func (s *Store) RaisePlatformChatID(ctx context.Context, atLeast uint64) error {
	if atLeast > math.MaxInt64 {
		return fmt.Errorf("failed to raise the platform_chat_id sequence to %d: beyond a bigint: %w", atLeast, ErrInvalidRecord)
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockSequence); err != nil {
			return err
		}
		var (
			last   int64
			called bool
		)
		if err := tx.QueryRow(ctx, `SELECT last_value, is_called FROM platform_chat_id`).Scan(&last, &called); err != nil {
			return err
		}
		handedOut := last
		if !called {
			handedOut = last - 1 // a fresh sequence: nothing handed out
		}
		if uint64(handedOut) >= atLeast {
			return nil
		}
		if atLeast == 0 {
			return nil // cannot happen (handedOut >= 0), but setval(0) is an error
		}
		_, err := tx.Exec(ctx, `SELECT setval('platform_chat_id', $1, true)`, int64(atLeast))
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to raise the platform_chat_id sequence to %d: %w", atLeast, err)
	}
	return nil
}
