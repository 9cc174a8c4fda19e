package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
// putBatch, each durable when it returns.
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
	for start := 0; start < len(users); start += putBatch {
		end := min(start+putBatch, len(users))
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

// A room's epoch is its own column, the one ActivateRoom raises and PutRoom
// compares; the epoch inside the record's JSON is the writer's, and reads
// return the column's.

// GetRoom reads the record of roomID; a missing one is ErrNotFound.
func (s *Store) GetRoom(ctx context.Context, roomID string) (actors.RoomRecord, error) {
	r, err := getRecord[epochRoom](ctx, s, "room "+roomID, versionRoom,
		`SELECT version, data, epoch FROM rooms WHERE room_id = $1`, roomID)
	if err != nil {
		return actors.RoomRecord{}, fmt.Errorf("failed to get room %q: %w", roomID, err)
	}
	return r.RoomRecord, nil
}

// ActivateRoom implements actors.Store: the epoch column goes up by one in
// the statement that reads the record back, so two activations, on any
// members, never get the same epoch.
func (s *Store) ActivateRoom(ctx context.Context, roomID string) (actors.RoomRecord, error) {
	r, err := getRecord[epochRoom](ctx, s, "room "+roomID, versionRoom,
		`UPDATE rooms SET epoch = epoch + 1 WHERE room_id = $1 RETURNING version, data, epoch`, roomID)
	if err != nil {
		return actors.RoomRecord{}, fmt.Errorf("failed to activate room %q: %w", roomID, err)
	}
	return r.RoomRecord, nil
}

// putRoomSQL writes one room; the owner and chat index columns are the
// index ListRooms reads, so they move with the record in one statement. A
// record of an older epoch than the stored one changes nothing (no row
// affected: ErrStaleEpoch).
const putRoomSQL = `INSERT INTO rooms (room_id, owner_id, chat_index, version, data, epoch) VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (room_id) DO UPDATE SET owner_id = excluded.owner_id, chat_index = excluded.chat_index,
		version = excluded.version, data = excluded.data, epoch = excluded.epoch
	WHERE rooms.epoch <= excluded.epoch`

// PutRoom creates or replaces the record of r.RoomID, unless the stored one
// is of a newer epoch.
func (s *Store) PutRoom(ctx context.Context, r actors.RoomRecord) error {
	if err := r.Validate(); err != nil {
		return err
	}
	raw, err := encodeRecord("room "+r.RoomID, r)
	if err != nil {
		return err
	}
	err = s.do(ctx, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, putRoomSQL, putRoomArgs(r, raw)...)
		if err == nil && tag.RowsAffected() == 0 {
			err = staleRoom(r)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to put room %q: %w", r.RoomID, err)
	}
	return nil
}

func putRoomArgs(r actors.RoomRecord, raw []byte) []any {
	return []any{r.RoomID, r.OwnerID, r.ChatIndex, versionRoom, raw, int64(r.Epoch)}
}

func staleRoom(r actors.RoomRecord) error {
	return fmt.Errorf("the record of room %q is of epoch %d, older than the stored one: %w", r.RoomID, r.Epoch, ErrStaleEpoch)
}

// epochRoom is a room row read with its epoch column.
type epochRoom struct{ actors.RoomRecord }

// putBatch is how many records PutRooms and PutUsers write in one transaction (one
// commit, one WAL flush, for all of them).
const putBatch = 500

// PutRooms implements actors.Store: the rooms in transactions of
// putBatch, each durable when it returns. A room given twice ends as
// its last copy, as with one PutRoom after another.
func (s *Store) PutRooms(ctx context.Context, rooms []actors.RoomRecord) error {
	raws := make([][]byte, len(rooms))
	for i, r := range rooms {
		if err := r.Validate(); err != nil {
			return err
		}
		raw, err := encodeRecord("room "+r.RoomID, r)
		if err != nil {
			return err
		}
		raws[i] = raw
	}
	for start := 0; start < len(rooms); start += putBatch {
		end := min(start+putBatch, len(rooms))
		err := s.tx(ctx, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			for i := start; i < end; i++ {
				r := rooms[i]
				b.Queue(putRoomSQL, putRoomArgs(r, raws[i])...).Exec(func(tag pgconn.CommandTag) error {
					if tag.RowsAffected() == 0 {
						return staleRoom(r)
					}
					return nil
				})
			}
			return tx.SendBatch(ctx, b).Close()
		})
		if err != nil {
			return fmt.Errorf("failed to put rooms %d to %d of %d: %w", start+1, end, len(rooms), err)
		}
	}
	return nil
}

// ListRooms returns the rooms owned by userID, archived ones included,
// ordered by ChatIndex, then room id.
func (s *Store) ListRooms(ctx context.Context, userID string) ([]actors.RoomRecord, error) {
	rows, err := listRecords[epochRoom](ctx, s, "room", versionRoom,
		`SELECT version, data, epoch FROM rooms WHERE owner_id = $1 ORDER BY chat_index, room_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("failed to list rooms of %q: %w", userID, err)
	}
	var rooms []actors.RoomRecord
	for _, r := range rows {
		rooms = append(rooms, r.RoomRecord)
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

// epochSetter is a record read with an epoch column after its data
// (epochRoom).
type epochSetter interface{ setEpoch(int64) }

func (r *epochRoom) setEpoch(e int64) { r.Epoch = uint64(e) }

// rowScan is where one row's columns go: (version, data), and the epoch
// when T takes one.
type rowScan[T any] struct {
	version int
	raw     []byte
	epoch   int64
}

func (r *rowScan[T]) dest() []any {
	var v T
	if _, ok := any(&v).(epochSetter); ok {
		return []any{&r.version, &r.raw, &r.epoch}
	}
	return []any{&r.version, &r.raw}
}

func (r *rowScan[T]) decode(what string, current int) (T, error) {
	v, err := decodeRecord[T](what, r.version, r.raw, current)
	if es, ok := any(&v).(epochSetter); ok && err == nil {
		es.setEpoch(r.epoch)
	}
	return v, err
}

// getRecord reads the one row sql selects as (version, data[, epoch]).
func getRecord[T any](ctx context.Context, s *Store, what string, current int, sql string, args ...any) (T, error) {
	var row rowScan[T]
	err := s.do(ctx, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, sql, args...).Scan(row.dest()...)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		var zero T
		return zero, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return row.decode(what, current)
}

// listRecords reads every row sql selects as (version, data[, epoch]), in
// its order.
func listRecords[T any](ctx context.Context, s *Store, what string, current int, sql string, args ...any) ([]T, error) {
	var out []T
	err := s.do(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		var row rowScan[T]
		_, err = pgx.ForEachRow(rows, row.dest(), func() error {
			v, err := row.decode(what, current)
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
