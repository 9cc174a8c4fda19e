package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"
)

// A member retired for good (`surfaces cluster retire`) leaves a row in the
// members table when it ended without leaving, and, with grains and
// encryption, a device and an Olm account of its own. Retire removes the
// row; the caller removes the rest in fn. The member's own advisory lock is
// held meanwhile, so neither a running member is retired nor a retired one
// starts halfway through.

// Retire runs fn while holding member id's locks (holdMember), then
// deletes its row from the members table; listed says there was one. It
// fails with ErrMemberTaken when a running process is that member, and
// with ErrLocked while a tool holds the database exclusively. fn's error stops it before the row
// is deleted, so that a retry finds the member still listed.
func (s *Store) Retire(ctx context.Context, id string, fn func(context.Context) error) (listed bool, _ error) {
	if id == "" || len(id) > maxMemberID {
		return false, fmt.Errorf("failed to retire member %q: empty or longer than %d bytes", id, maxMemberID)
	}
	conn, err := s.holdMember(ctx, id)
	if err != nil {
		return false, fmt.Errorf("failed to retire member %q: %w", id, err)
	}
	if err = fn(ctx); err == nil {
		var tag pgconn.CommandTag
		tag, err = conn.Exec(ctx, `DELETE FROM members WHERE member_id = $1`, id)
		listed = tag.RowsAffected() > 0
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
