package persistence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The Matrix side's state: the sync token and the set of recently handled
// event ids (PRODUCT R7.2). The Load* methods follow mautrix's SyncStore
// contract, where "nothing stored yet" is an empty string and no error, so
// that matrix/ can adapt them with a one-line type conversion of the user id.

// SyncToken returns the bot's stored sync token, or "" when none was stored
// yet (a first start syncs from scratch).
func (s *Store) SyncToken(ctx context.Context) (string, error) {
	v, err := s.getString(ctx, []byte(keySyncToken))
	if err != nil {
		return "", fmt.Errorf("failed to get sync token: %w", err)
	}
	return v, nil
}

// SetSyncToken stores the bot's sync token.
func (s *Store) SetSyncToken(ctx context.Context, token string) error {
	if err := s.putString(ctx, []byte(keySyncToken), token); err != nil {
		return fmt.Errorf("failed to set sync token: %w", err)
	}
	return nil
}

// SaveFilterID stores the sync filter id of userID (mautrix SyncStore).
func (s *Store) SaveFilterID(ctx context.Context, userID, filterID string) error {
	if err := s.putString(ctx, filterIDKey(userID), filterID); err != nil {
		return fmt.Errorf("failed to save filter id of %q: %w", userID, err)
	}
	return nil
}

// LoadFilterID returns the sync filter id of userID, or "" when none.
func (s *Store) LoadFilterID(ctx context.Context, userID string) (string, error) {
	v, err := s.getString(ctx, filterIDKey(userID))
	if err != nil {
		return "", fmt.Errorf("failed to load filter id of %q: %w", userID, err)
	}
	return v, nil
}

// SaveNextBatch stores the next_batch token of userID (mautrix SyncStore).
func (s *Store) SaveNextBatch(ctx context.Context, userID, nextBatch string) error {
	if err := s.putString(ctx, nextBatchKey(userID), nextBatch); err != nil {
		return fmt.Errorf("failed to save next batch of %q: %w", userID, err)
	}
	return nil
}

// LoadNextBatch returns the next_batch token of userID, or "" when none.
func (s *Store) LoadNextBatch(ctx context.Context, userID string) (string, error) {
	v, err := s.getString(ctx, nextBatchKey(userID))
	if err != nil {
		return "", fmt.Errorf("failed to load next batch of %q: %w", userID, err)
	}
	return v, nil
}

// MarkEventHandled records eventID as handled and reports whether this call
// was the first to do so: true means "handle it", false means it was handled
// before (within the event TTL) and must be skipped. The check and the mark
// are one transaction, so of two concurrent callers exactly one gets true.
func (s *Store) MarkEventHandled(ctx context.Context, eventID string) (bool, error) {
	if eventID == "" {
		return false, fmt.Errorf("failed to mark event handled: empty event id: %w", ErrInvalidRecord)
	}
	key := eventKey(eventID)
	var first bool
	err := s.update(ctx, func(txn *badger.Txn) error {
		first = false
		_, err := txn.Get(key)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, badger.ErrKeyNotFound):
			return fmt.Errorf("failed to read key %q: %w", key, err)
		}
		raw, err := encodeValue(key, versionEvent, eventValue{HandledAtUnix: time.Now().Unix()})
		if err != nil {
			return err
		}
		if err := txn.SetEntry(badger.NewEntry(key, raw).WithTTL(s.eventTTL)); err != nil {
			return fmt.Errorf("failed to write key %q: %w", key, err)
		}
		first = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("failed to mark event %q handled: %w", eventID, err)
	}
	return first, nil
}

// markChunk bounds the marks of one CommitSync transaction, well inside
// Badger's transaction limits.
const markChunk = 500

// CommitSync marks every event of handled as handled (for the event TTL),
// then stores nextBatch as userID's sync position (an empty one is not
// stored: marks only). The marks go first, in
// transactions of up to markChunk, and the position last: a crash in
// between leaves marks without the position, which only skips events that
// were handled.
func (s *Store) CommitSync(ctx context.Context, userID, nextBatch string, handled []string) error {
	for chunk := range slices.Chunk(handled, markChunk) {
		err := s.update(ctx, func(txn *badger.Txn) error {
			now := time.Now().Unix()
			for _, id := range chunk {
				if id == "" {
					continue
				}
				key := eventKey(id)
				raw, err := encodeValue(key, versionEvent, eventValue{HandledAtUnix: now})
				if err != nil {
					return err
				}
				if err := txn.SetEntry(badger.NewEntry(key, raw).WithTTL(s.eventTTL)); err != nil {
					return fmt.Errorf("failed to write key %q: %w", key, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("failed to mark %d events handled: %w", len(chunk), err)
		}
	}
	if nextBatch == "" {
		return nil // marks only
	}
	return s.SaveNextBatch(ctx, userID, nextBatch)
}

// EventHandled reports whether eventID was marked handled within the event
// TTL, without marking it.
func (s *Store) EventHandled(ctx context.Context, eventID string) (bool, error) {
	var found bool
	err := s.view(ctx, func(txn *badger.Txn) error {
		_, err := txn.Get(eventKey(eventID))
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, badger.ErrKeyNotFound):
			return fmt.Errorf("failed to read key for event %q: %w", eventID, err)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("failed to check event %q: %w", eventID, err)
	}
	return found, nil
}

// getString reads a stringValue; a missing key is "".
func (s *Store) getString(ctx context.Context, key []byte) (string, error) {
	var v stringValue
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		v, err = getValue[stringValue](txn, key, versionString)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return v.Value, nil
}

// putString writes a stringValue.
func (s *Store) putString(ctx context.Context, key []byte, value string) error {
	return s.update(ctx, func(txn *badger.Txn) error {
		return setValue(txn, key, versionString, stringValue{Value: value})
	})
}
