package persistence

import (
	"context"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Bot-level values: small named values (GetMeta/PutMeta). The
// platform_chat_id sequence is in sequence.go.

// Well-known meta names, so that writers and readers agree on spelling.
// They are the names matrix/ stores its session under.
const (
	// MetaDeviceID is the Matrix device id the bot logged in with, reused on
	// restart so that a password login does not create a device each time.
	MetaDeviceID = "matrix.device_id"
	// MetaAccessToken is the access token obtained by a password login,
	// reused on restart.
	MetaAccessToken = "matrix.access_token"
	// MetaSessionUser is the Matrix user id the stored session belongs to;
	// a different configured account must not reuse it.
	MetaSessionUser = "matrix.session_user"
)

// GetMeta returns the bot-level value called name; a missing one is
// ErrNotFound (unlike the sync tokens, callers here usually need to know).
func (s *Store) GetMeta(ctx context.Context, name string) (string, error) {
	var v stringValue
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		v, err = getValue[stringValue](txn, metaKey(name), versionString)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("failed to get meta %q: %w", name, err)
	}
	return v.Value, nil
}

// PutMeta stores the bot-level value called name. Values are meant to be
// small (ids, tokens): they live in the LSM tree, not the value log.
func (s *Store) PutMeta(ctx context.Context, name, value string) error {
	if name == "" {
		return fmt.Errorf("failed to put meta: empty name: %w", ErrInvalidRecord)
	}
	if err := s.putString(ctx, metaKey(name), value); err != nil {
		return fmt.Errorf("failed to put meta %q: %w", name, err)
	}
	return nil
}

// DeleteMeta removes the value called name; removing a missing one is not
// an error.
func (s *Store) DeleteMeta(ctx context.Context, name string) error {
	key := metaKey(name)
	err := s.update(ctx, func(txn *badger.Txn) error {
		if err := txn.Delete(key); err != nil {
			return fmt.Errorf("failed to delete key %q: %w", key, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("failed to delete meta %q: %w", name, err)
	}
	return nil
}
