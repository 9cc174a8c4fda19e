package pgstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The appservice inbox (matrix.Appservice): the transactions the
// homeserver pushed that the actor tree has not finished with, kept before
// each is answered 200 and removed once every event in it was acked. In a
// cluster the member holding the ingress reads it when it takes over.

// AddToInbox keeps body, a transaction's JSON, under key until
// RemoveFromInbox. added is false when key is kept already (the homeserver
// sent the same transaction again); the body kept first stays.
func (s *Store) AddToInbox(ctx context.Context, key string, body []byte) (added bool, err error) {
	if key == "" {
		return false, fmt.Errorf("failed to add to the inbox: empty key: %w", ErrInvalidRecord)
	}
	if !json.Valid(body) {
		return false, fmt.Errorf("failed to add %q to the inbox: the body is not JSON: %w", key, ErrInvalidRecord)
	}
	err = s.do(ctx, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `INSERT INTO appservice_inbox (key, body) VALUES ($1, $2)
			ON CONFLICT (key) DO NOTHING`, key, body)
		added = tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("failed to add %q to the inbox: %w", key, err)
	}
	return added, nil
}

// RemoveFromInbox forgets the transaction kept under key; removing one
// that is not kept is not an error.
func (s *Store) RemoveFromInbox(ctx context.Context, key string) error {
	err := s.do(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `DELETE FROM appservice_inbox WHERE key = $1`, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to remove %q from the inbox: %w", key, err)
	}
	return nil
}

// Inbox returns the kept transactions, oldest first: their keys and, at
// the same index, their bodies.
func (s *Store) Inbox(ctx context.Context) (keys []string, bodies [][]byte, err error) {
	err = s.do(ctx, func(ctx context.Context) error {
		keys, bodies = nil, nil
		rows, err := s.pool.Query(ctx, `SELECT key, body FROM appservice_inbox ORDER BY seq`)
		if err != nil {
			return err
		}
		var key string
		var body []byte
		_, err = pgx.ForEachRow(rows, []any{&key, &body}, func() error {
			keys = append(keys, key)
			bodies = append(bodies, append([]byte(nil), body...))
			return nil
		})
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("failed to read the inbox: %w", err)
	}
	return keys, bodies, nil
}
