package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"
)

// A member retired for good (`surfaces cluster retire`) leaves a row in the
// members table when it ended without leaving, and, with grains and
// encryption, a device and an Olm account of its own. Retire removes the
// row; the caller removes the rest in fn. The member's own advisory lock is
// held meanwhile, so neither a running member is retired nor a retired one
// starts halfway through.

// Retire runs fn while holding member id's lock, then deletes its row from
// the members table; listed says there was one. It fails with ErrMemberTaken when a running process
// is that member (after Options.LockWait: a member killed a moment ago
// still holds its lock until PostgreSQL notices), and with ErrLocked while
// a tool holds the database exclusively. fn's error stops it before the row
// is deleted, so that a retry finds the member still listed.
func (s *Store) Retire(ctx context.Context, id string, fn func(context.Context) error) (listed bool, err error) {
	if id == "" || len(id) > maxMemberID {
		return false, fmt.Errorf("failed to retire member %q: empty or longer than %d bytes", id, maxMemberID)
	}
	var conn *pgx.Conn
	err = s.do(ctx, func(ctx context.Context) error {
		pooled, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		conn = pooled.Hijack()
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("failed to retire member %q: %w", id, err)
	}
	var own, shared bool
	_, err = whileRefused(ctx, s.lockWait, func() (bool, error) {
		err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, hashtext($2)), pg_try_advisory_lock_shared($3)`,
			lockMembers, id, lockExclusiveUse).Scan(&own, &shared)
		if err == nil && !(own && shared) {
			_, err = conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
		}
		return !(own && shared), err
	})
	switch {
	case err != nil:
	case !own:
		err = fmt.Errorf("member id %q is running: %w", id, ErrMemberTaken)
	case !shared:
		err = ErrLocked
	default:
		if err = fn(ctx); err == nil {
			var tag pgconn.CommandTag
			tag, err = conn.Exec(ctx, `DELETE FROM members WHERE member_id = $1`, id)
			listed = tag.RowsAffected() > 0
		}
	}
	if cerr := closeSession(ctx, conn); cerr != nil {
		// The work is done or failed already; the locks go with the
		// session, which PostgreSQL ends once it sees it closed.
		zerolog.Ctx(ctx).Warn().Err(cerr).Str("member_id", id).Msg("failed to close the retiring session")
	}
	if err != nil {
		return false, fmt.Errorf("failed to retire member %q: %w", id, err)
	}
	return listed, nil
}
