package persistence

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/surfaces-bot/surfaces/actors"
)

// GetRoom reads the record of roomID; a missing one is ErrNotFound.
func (s *Store) GetRoom(ctx context.Context, roomID string) (actors.RoomRecord, error) {
	var r actors.RoomRecord
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		r, err = getValue[actors.RoomRecord](txn, roomKey(roomID), versionRoom)
		return err
	})
	if err != nil {
		return actors.RoomRecord{}, fmt.Errorf("failed to get room %q: %w", roomID, err)
	}
	return r, nil
}

// ActivateRoom implements actors.Store: the stored record's Epoch goes up
// by one in one transaction (retried on conflict, so two activations never
// get the same epoch).
func (s *Store) ActivateRoom(ctx context.Context, roomID string) (actors.RoomRecord, error) {
	var r actors.RoomRecord
	err := s.update(ctx, func(txn *badger.Txn) error {
		var err error
		if r, err = getValue[actors.RoomRecord](txn, roomKey(roomID), versionRoom); err != nil {
			return err
		}
		r.Epoch++
		return setValue(txn, roomKey(roomID), versionRoom, r)
	})
	if err != nil {
		return actors.RoomRecord{}, fmt.Errorf("failed to activate room %q: %w", roomID, err)
	}
	return r, nil
}

// PutRoom creates or replaces the record of r.RoomID and keeps the owner
// index in step, in one transaction: when the owner or the chat index
// changed, the old index entry is removed with the write of the new one.
func (s *Store) PutRoom(ctx context.Context, r actors.RoomRecord) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := s.update(ctx, func(txn *badger.Txn) error { return putRoomTxn(txn, r) }); err != nil {
		return fmt.Errorf("failed to put room %q: %w", r.RoomID, err)
	}
	return nil
}

// putRoomsBatch is how many rooms PutRooms writes in one transaction: well
// under Badger's transaction size limit, and one fsync for all of them.
const putRoomsBatch = 500

// PutRooms implements actors.Store: the rooms in transactions of
// putRoomsBatch, each durable when it returns.
func (s *Store) PutRooms(ctx context.Context, rooms []actors.RoomRecord) error {
	for _, r := range rooms {
		if err := r.Validate(); err != nil {
			return err
		}
	}
	for start := 0; start < len(rooms); start += putRoomsBatch {
		batch := rooms[start:min(start+putRoomsBatch, len(rooms))]
		err := s.update(ctx, func(txn *badger.Txn) error {
			for _, r := range batch {
				if err := putRoomTxn(txn, r); err != nil {
					return fmt.Errorf("room %q: %w", r.RoomID, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("failed to put %d rooms: %w", len(batch), err)
		}
	}
	return nil
}

// putRoomTxn writes r and its owner index, moving the index entry when the
// owner or chat index changed.
func putRoomTxn(txn *badger.Txn, r actors.RoomRecord) error {
	key := roomKey(r.RoomID)
	newIndex := roomOwnerKey(r.OwnerID, r.ChatIndex, r.RoomID)
	old, err := getValue[actors.RoomRecord](txn, key, versionRoom)
	switch {
	case errors.Is(err, ErrNotFound):
		// A new room: nothing to move.
	case err != nil:
		return err
	case old.Epoch > r.Epoch:
		return fmt.Errorf("the record is of epoch %d, the stored one of %d: %w", r.Epoch, old.Epoch, actors.ErrStaleEpoch)
	default:
		oldIndex := roomOwnerKey(old.OwnerID, old.ChatIndex, old.RoomID)
		if string(oldIndex) != string(newIndex) {
			if err := txn.Delete(oldIndex); err != nil {
				return fmt.Errorf("failed to delete owner index %q: %w", oldIndex, err)
			}
		}
	}
	if err := setValue(txn, key, versionRoom, r); err != nil {
		return err
	}
	if err := txn.Set(newIndex, nil); err != nil {
		return fmt.Errorf("failed to write owner index %q: %w", newIndex, err)
	}
	return nil
}

// ListRooms returns the rooms owned by userID, archived ones included,
// ordered by ChatIndex (then room id): a prefix scan of the owner index.
func (s *Store) ListRooms(ctx context.Context, userID string) ([]actors.RoomRecord, error) {
	var rooms []actors.RoomRecord
	err := s.view(ctx, func(txn *badger.Txn) error {
		ids, err := scanOwnerIndex(txn, userID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			r, err := getValue[actors.RoomRecord](txn, roomKey(id), versionRoom)
			if err != nil {
				// The index and the record are written together, so a
				// dangling entry means the database was damaged.
				if errors.Is(err, ErrNotFound) {
					return fmt.Errorf("owner index of %q names missing room %q: %w", userID, id, ErrCorrupt)
				}
				return err
			}
			rooms = append(rooms, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to list rooms of %q: %w", userID, err)
	}
	return rooms, nil
}

// scanOwnerIndex returns the room ids in userID's owner index, in key order.
func scanOwnerIndex(txn *badger.Txn, userID string) ([]string, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: roomOwnerPrefix(userID)})
	defer it.Close()
	var ids []string
	for it.Rewind(); it.Valid(); it.Next() {
		id, err := roomIDFromOwnerKey(it.Item().Key())
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}
