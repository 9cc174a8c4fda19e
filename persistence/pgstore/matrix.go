package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
)

// The Matrix side's state: the sync position (mautrix's SyncStore, where
// "nothing stored yet" is "" and no error), the recently handled event ids
// (PRODUCT R7.2), and bot-level values.

// Names of the per-user sync values.
const (
	syncFilterID  = "filter_id"
	syncNextBatch = "next_batch"
)

// SaveFilterID stores the sync filter id of userID (mautrix SyncStore).
func (s *Store) SaveFilterID(ctx context.Context, userID, filterID string) error {
	if err := s.putSync(ctx, userID, syncFilterID, filterID); err != nil {
		return fmt.Errorf("failed to save filter id of %q: %w", userID, err)
	}
	return nil
}

// LoadFilterID returns the sync filter id of userID, or "" when none.
func (s *Store) LoadFilterID(ctx context.Context, userID string) (string, error) {
	v, err := s.getSync(ctx, userID, syncFilterID)
	if err != nil {
		return "", fmt.Errorf("failed to load filter id of %q: %w", userID, err)
	}
	return v, nil
}

// SaveNextBatch stores the next_batch token of userID (mautrix SyncStore).
func (s *Store) SaveNextBatch(ctx context.Context, userID, nextBatch string) error {
	if err := s.putSync(ctx, userID, syncNextBatch, nextBatch); err != nil {
		return fmt.Errorf("failed to save next batch of %q: %w", userID, err)
	}
	return nil
}

// LoadNextBatch returns the next_batch token of userID, or "" when none.
func (s *Store) LoadNextBatch(ctx context.Context, userID string) (string, error) {
	v, err := s.getSync(ctx, userID, syncNextBatch)
	if err != nil {
		return "", fmt.Errorf("failed to load next batch of %q: %w", userID, err)
	}
	return v, nil
}

const putSyncSQL = `INSERT INTO sync_state (user_id, name, value) VALUES ($1, $2, $3)
	ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value`

func (s *Store) putSync(ctx context.Context, userID, name, value string) error {
	return s.do(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, putSyncSQL, userID, name, value)
		return err
	})
}

func (s *Store) getSync(ctx context.Context, userID, name string) (string, error) {
	var v string
	err := s.do(ctx, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT value FROM sync_state WHERE user_id = $1 AND name = $2`, userID, name).Scan(&v)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// MarkEventHandled records eventID as handled and reports whether this call
// was the first to do so within the event TTL. The check and the mark are
// one statement: of two concurrent callers, on any member, exactly one gets
// true. A mark older than the TTL counts as absent and is renewed.
func (s *Store) MarkEventHandled(ctx context.Context, eventID string) (bool, error) {
	if eventID == "" {
		return false, fmt.Errorf("failed to mark event handled: empty event id: %w", ErrInvalidRecord)
	}
	var first bool
	err := s.do(ctx, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `INSERT INTO handled_events (event_id, handled_at) VALUES ($1, now())
			ON CONFLICT (event_id) DO UPDATE SET handled_at = excluded.handled_at
			WHERE handled_events.handled_at < now() - $2::interval`,
			eventID, s.eventTTL)
		first = tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("failed to mark event %q handled: %w", eventID, err)
	}
	return first, nil
}

// CommitSync marks every event of handled as handled (for the event TTL)
// and stores nextBatch as userID's sync position (an empty one is not
// stored: marks only), in one transaction: unlike Badger's, the marks and
// the position land together or not at all.
func (s *Store) CommitSync(ctx context.Context, userID, nextBatch string, handled []string) error {
	ids := make([]string, 0, len(handled))
	for _, id := range handled {
		if id != "" {
			ids = append(ids, id)
		}
	}
	// One statement may not touch a row twice.
	slices.Sort(ids)
	ids = slices.Compact(ids)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if len(ids) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO handled_events (event_id, handled_at)
				SELECT id, now() FROM unnest($1::text[]) AS id
				ON CONFLICT (event_id) DO UPDATE SET handled_at = excluded.handled_at`, ids); err != nil {
				return err
			}
		}
		if nextBatch != "" {
			if _, err := tx.Exec(ctx, putSyncSQL, userID, syncNextBatch, nextBatch); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("failed to commit the sync position of %q with %d handled events: %w", userID, len(ids), err)
	}
	return nil
}

// EventHandled reports whether eventID was marked handled within the event
// TTL, without marking it.
func (s *Store) EventHandled(ctx context.Context, eventID string) (bool, error) {
	var found bool
	err := s.do(ctx, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM handled_events
			WHERE event_id = $1 AND handled_at >= now() - $2::interval)`,
			eventID, s.eventTTL).Scan(&found)
	})
	if err != nil {
		return false, fmt.Errorf("failed to check event %q: %w", eventID, err)
	}
	return found, nil
}

// expireEvents deletes marks older than the TTL now and then, so that the
// table holds about a TTL's worth of events (Badger expires its own).
// Every member runs it; the deletes are idempotent.
// Open runs it once before returning; then it runs in a goroutine of the
// store until Close.
func (s *Store) expireEvents(ctx context.Context) {
	defer close(s.expiryDone)
	every := min(s.eventTTL/4, time.Hour)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		s.expireEventsOnce(ctx)
	}
}

// expireEventsOnce deletes the marks older than the TTL.
func (s *Store) expireEventsOnce(ctx context.Context) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM handled_events WHERE handled_at < now() - $1::interval`, s.eventTTL)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		zerolog.Ctx(ctx).Warn().Err(err).Msg("failed to expire handled-event marks")
	case tag.RowsAffected() > 0:
		zerolog.Ctx(ctx).Debug().Int64("expired", tag.RowsAffected()).Msg("expired handled-event marks")
	}
}

// GetMeta returns the bot-level value called name; a missing one is
// ErrNotFound.
func (s *Store) GetMeta(ctx context.Context, name string) (string, error) {
	var v string
	err := s.do(ctx, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE name = $1`, name).Scan(&v)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("failed to get meta %q: %w", name, err)
	}
	return v, nil
}

// PutMeta stores the bot-level value called name.
func (s *Store) PutMeta(ctx context.Context, name, value string) error {
	if name == "" {
		return fmt.Errorf("failed to put meta: empty name: %w", ErrInvalidRecord)
	}
	err := s.do(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `INSERT INTO meta (name, value) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to put meta %q: %w", name, err)
	}
	return nil
}

// DeleteMeta removes the value called name; removing a missing one is not
// an error.
func (s *Store) DeleteMeta(ctx context.Context, name string) error {
	err := s.do(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `DELETE FROM meta WHERE name = $1`, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to delete meta %q: %w", name, err)
	}
	return nil
}
