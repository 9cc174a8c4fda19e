package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/surfaces-bot/surfaces/actors"
)

// Users, rooms and saved contexts: the actors' records.

// GetUser reads the user record of userID; a missing one is ErrNotFound.
func (s *Store) GetUser(ctx context.Context, userID string) (actors.UserRecord, error) {
	u, err := getRecord[actors.UserRecord](ctx, s, "user "+userID, versionUser,
		`SELECT version, data FROM users WHERE user_id = $1`, userID)
	if err != nil {
		return actors.UserRecord{}, fmt.Errorf("failed to get user %q: %w", userID, err)
	}
	return u, nil
}

const putUserSQL = `INSERT INTO users (user_id, version, data) VALUES ($1, $2, $3)
	ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, data = excluded.data`

// PutUser creates or replaces the record of u.UserID.
func (s *Store) PutUser(ctx context.Context, u actors.UserRecord) error {
	if u.UserID == "" {
		return fmt.Errorf("failed to put user: empty user id: %w", ErrInvalidRecord)
	}
	err := s.put(ctx, "user "+u.UserID, u, func(raw []byte) (string, []any) {
		return putUserSQL, []any{u.UserID, versionUser, raw}
	})
	if err != nil {
		return fmt.Errorf("failed to put user %q: %w", u.UserID, err)
	}
	return nil
}

// PutUsers implements actors.Store: the users in transactions of
// putRoomsBatch, each durable when it returns.
func (s *Store) PutUsers(ctx context.Context, users []actors.UserRecord) error {
	raws := make([][]byte, len(users))
	for i, u := range users {
		if u.UserID == "" {
			return fmt.Errorf("failed to put users: empty user id: %w", ErrInvalidRecord)
		}
		raw, err := encodeRecord("user "+u.UserID, u)
		if err != nil {
			return err
		}
		raws[i] = raw
	}
	for start := 0; start < len(users); start += putRoomsBatch {
		end := min(start+putRoomsBatch, len(users))
		err := s.tx(ctx, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			for i := start; i < end; i++ {
				b.Queue(putUserSQL, users[i].UserID, versionUser, raws[i])
			}
			return tx.SendBatch(ctx, b).Close()
		})
		if err != nil {
			return fmt.Errorf("failed to put users %d to %d of %d: %w", start+1, end, len(users), err)
		}
	}
	return nil
}

// ListUsers returns every user record ordered by user id (byte order).
func (s *Store) ListUsers(ctx context.Context) ([]actors.UserRecord, error) {
	users, err := listRecords[actors.UserRecord](ctx, s, "user", versionUser,
		`SELECT version, data FROM users ORDER BY user_id`)
	if err != nil {
		return nil, fmt.Errorf("failed to list users: %w", err)
	}
	return users, nil
}

// GetRoom reads the record of roomID; a missing one is ErrNotFound.
func (s *Store) GetRoom(ctx context.Context, roomID string) (actors.RoomRecord, error) {
	r, err := getRecord[actors.RoomRecord](ctx, s, "room "+roomID, versionRoom,
		`SELECT version, data FROM rooms WHERE room_id = $1`, roomID)
	if err != nil {
		return actors.RoomRecord{}, fmt.Errorf("failed to get room %q: %w", roomID, err)
	}
	return r, nil
}

// putRoomSQL writes one room; the owner and chat index columns are the
// index ListRooms reads, so they move with the record in one statement.
const putRoomSQL = `INSERT INTO rooms (room_id, owner_id, chat_index, version, data) VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (room_id) DO UPDATE SET owner_id = excluded.owner_id, chat_index = excluded.chat_index,
		version = excluded.version, data = excluded.data`

// PutRoom creates or replaces the record of r.RoomID.
func (s *Store) PutRoom(ctx context.Context, r actors.RoomRecord) error {
	if err := validRoom(r); err != nil {
		return err
	}
	err := s.put(ctx, "room "+r.RoomID, r, func(raw []byte) (string, []any) {
		return putRoomSQL, []any{r.RoomID, r.OwnerID, r.ChatIndex, versionRoom, raw}
	})
	if err != nil {
		return fmt.Errorf("failed to put room %q: %w", r.RoomID, err)
	}
	return nil
}

// putRoomsBatch is how many rooms PutRooms writes in one transaction (one
// commit, one WAL flush, for all of them).
const putRoomsBatch = 500

// PutRooms implements actors.Store: the rooms in transactions of
// putRoomsBatch, each durable when it returns. A room given twice ends as
// its last copy, as with one PutRoom after another.
func (s *Store) PutRooms(ctx context.Context, rooms []actors.RoomRecord) error {
	raws := make([][]byte, len(rooms))
	for i, r := range rooms {
		if err := validRoom(r); err != nil {
			return err
		}
		raw, err := encodeRecord("room "+r.RoomID, r)
		if err != nil {
			return err
		}
		raws[i] = raw
	}
	for start := 0; start < len(rooms); start += putRoomsBatch {
		end := min(start+putRoomsBatch, len(rooms))
		err := s.tx(ctx, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			for i := start; i < end; i++ {
				r := rooms[i]
				b.Queue(putRoomSQL, r.RoomID, r.OwnerID, r.ChatIndex, versionRoom, raws[i])
			}
			return tx.SendBatch(ctx, b).Close()
		})
		if err != nil {
			return fmt.Errorf("failed to put rooms %d to %d of %d: %w", start+1, end, len(rooms), err)
		}
	}
	return nil
}

// validRoom refuses a room without its identity, as persistence does.
func validRoom(r actors.RoomRecord) error {
	switch {
	case r.RoomID == "":
		return fmt.Errorf("failed to put room: empty room id: %w", ErrInvalidRecord)
	case r.OwnerID == "":
		return fmt.Errorf("failed to put room %q: empty owner id: %w", r.RoomID, ErrInvalidRecord)
	case r.ChatIndex < 0:
		return fmt.Errorf("failed to put room %q: negative chat index %d: %w", r.RoomID, r.ChatIndex, ErrInvalidRecord)
	}
	return nil
}

// ListRooms returns the rooms owned by userID, archived ones included,
// ordered by ChatIndex, then room id.
func (s *Store) ListRooms(ctx context.Context, userID string) ([]actors.RoomRecord, error) {
	rooms, err := listRecords[actors.RoomRecord](ctx, s, "room", versionRoom,
		`SELECT version, data FROM rooms WHERE owner_id = $1 ORDER BY chat_index, room_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("failed to list rooms of %q: %w", userID, err)
	}
	return rooms, nil
}

// PutSavedContext creates or replaces the saved context named sc.Name of
// sc.UserID.
func (s *Store) PutSavedContext(ctx context.Context, sc actors.SavedContext) error {
	if sc.UserID == "" || sc.Name == "" {
		return fmt.Errorf("failed to put saved context: empty user id or name: %w", ErrInvalidRecord)
	}
	err := s.put(ctx, "saved context "+sc.Name, sc, func(raw []byte) (string, []any) {
		return `INSERT INTO saved_contexts (user_id, name, saved_at_sec, saved_at_nsec, version, data)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (user_id, name) DO UPDATE SET saved_at_sec = excluded.saved_at_sec,
				saved_at_nsec = excluded.saved_at_nsec, version = excluded.version, data = excluded.data`,
			[]any{sc.UserID, sc.Name, sc.SavedAt.Unix(), sc.SavedAt.Nanosecond(), versionSaved, raw}
	})
	if err != nil {
		return fmt.Errorf("failed to put saved context %q of %q: %w", sc.Name, sc.UserID, err)
	}
	return nil
}

// ListSavedContexts returns userID's saved contexts, oldest first (ties by
// name).
func (s *Store) ListSavedContexts(ctx context.Context, userID string) ([]actors.SavedContext, error) {
	saved, err := listRecords[actors.SavedContext](ctx, s, "saved context", versionSaved,
		`SELECT version, data FROM saved_contexts WHERE user_id = $1 ORDER BY saved_at_sec, saved_at_nsec, name`, userID)
	if err != nil {
		return nil, fmt.Errorf("failed to list saved contexts of %q: %w", userID, err)
	}
	return saved, nil
}

// put encodes v and runs the statement stmt builds around it.
func (s *Store) put(ctx context.Context, what string, v any, stmt func(raw []byte) (string, []any)) error {
	raw, err := encodeRecord(what, v)
	if err != nil {
		return err
	}
	sql, args := stmt(raw)
	return s.do(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, sql, args...)
		return err
	})
}

// getRecord reads the one row sql selects as (version, data).
func getRecord[T any](ctx context.Context, s *Store, what string, current int, sql string, args ...any) (T, error) {
	var (
		v       T
		version int
		raw     []byte
	)
	err := s.do(ctx, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, sql, args...).Scan(&version, &raw)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return v, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err != nil {
		return v, err
	}
	return decodeRecord[T](what, version, raw, current)
}

// listRecords reads every row sql selects as (version, data), in its order.
func listRecords[T any](ctx context.Context, s *Store, what string, current int, sql string, args ...any) ([]T, error) {
	var out []T
	err := s.do(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		var (
			version int
			raw     []byte
		)
		_, err = pgx.ForEachRow(rows, []any{&version, &raw}, func() error {
			v, err := decodeRecord[T](what, version, raw, current)
			if err != nil {
				return err
			}
			out = append(out, v)
			return nil
		})
		return err
	})
	return out, err
}
