package persistence

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/surfaces-bot/surfaces/actors"
)

// GetUser reads the user record of userID; a missing one is ErrNotFound.
func (s *Store) GetUser(ctx context.Context, userID string) (actors.UserRecord, error) {
	var u actors.UserRecord
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		u, err = getValue[actors.UserRecord](txn, userKey(userID), versionUser)
		return err
	})
	if err != nil {
		return actors.UserRecord{}, fmt.Errorf("failed to get user %q: %w", userID, err)
	}
	return u, nil
}

// PutUser creates or replaces the record of u.UserID.
func (s *Store) PutUser(ctx context.Context, u actors.UserRecord) error {
	if u.UserID == "" {
		return fmt.Errorf("failed to put user: empty user id: %w", ErrInvalidRecord)
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		return setValue(txn, userKey(u.UserID), versionUser, u)
	})
	if err != nil {
		return fmt.Errorf("failed to put user %q: %w", u.UserID, err)
	}
	return nil
}

// putUsersBatch is how many users PutUsers writes in one transaction.
const putUsersBatch = 500

// PutUsers implements actors.Store: the users in transactions of
// putUsersBatch, each durable when it returns.
func (s *Store) PutUsers(ctx context.Context, users []actors.UserRecord) error {
	for _, u := range users {
		if u.UserID == "" {
			return fmt.Errorf("failed to put users: empty user id: %w", ErrInvalidRecord)
		}
	}
	for batch := range slices.Chunk(users, putUsersBatch) {
		err := s.update(ctx, func(txn *badger.Txn) error {
			for _, u := range batch {
				if err := setValue(txn, userKey(u.UserID), versionUser, u); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("failed to put %d users from %q: %w", len(batch), batch[0].UserID, err)
		}
	}
	return nil
}

// ListUsers returns every user record ordered by user id.
func (s *Store) ListUsers(ctx context.Context) ([]actors.UserRecord, error) {
	var users []actors.UserRecord
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		users, err = scanValues[actors.UserRecord](txn, []byte(prefixUser), versionUser)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("failed to list users: %w", err)
	}
	// Key order is escaped-id order; sort on the id itself so that the
	// result does not depend on the escaping.
	slices.SortFunc(users, func(a, b actors.UserRecord) int { return strings.Compare(a.UserID, b.UserID) })
	return users, nil
}

// PutSavedContext creates or replaces the saved context named s.Name of
// s.UserID: saving under an existing name overwrites it, so a name always
// means one platform_chat_id.
func (s *Store) PutSavedContext(ctx context.Context, sc actors.SavedContext) error {
	if sc.UserID == "" || sc.Name == "" {
		return fmt.Errorf("failed to put saved context: empty user id or name: %w", ErrInvalidRecord)
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		return setValue(txn, savedKey(sc.UserID, sc.Name), versionSaved, sc)
	})
	if err != nil {
		return fmt.Errorf("failed to put saved context %q of %q: %w", sc.Name, sc.UserID, err)
	}
	return nil
}

// ListSavedContexts returns userID's saved contexts, oldest first (ties by
// name), so that the numbers !load shows stay stable as contexts are added.
func (s *Store) ListSavedContexts(ctx context.Context, userID string) ([]actors.SavedContext, error) {
	var saved []actors.SavedContext
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		saved, err = scanValues[actors.SavedContext](txn, savedPrefix(userID), versionSaved)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("failed to list saved contexts of %q: %w", userID, err)
	}
	slices.SortStableFunc(saved, func(a, b actors.SavedContext) int {
		if c := a.SavedAt.Compare(b.SavedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return saved, nil
}

// scanValues decodes every value under prefix, in key order.
func scanValues[T any](txn *badger.Txn, prefix []byte, version int) ([]T, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	var out []T
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		key := item.KeyCopy(nil)
		raw, err := item.ValueCopy(nil)
		if err != nil {
			return nil, fmt.Errorf("failed to read value of %q: %w", key, err)
		}
		v, err := decodeValue[T](key, raw, version)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
