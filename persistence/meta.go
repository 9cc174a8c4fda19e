package persistence

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/dgraph-io/badger/v4"
)

// Bot-level values: small named values (GetMeta/PutMeta) and the
// platform_chat_id sequence, the one counter shared by the whole bot.

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

// NextPlatformChatID takes the next value of the platform_chat_id sequence
// ("1", "2", ...). The sequence is a counter key read, incremented and
// written in one transaction, retried on conflict: a value is handed out
// only after the write that consumes it is committed and fsynced, so no
// crash can make a value come back, and concurrent callers never share one.
// Badger's own Sequence is not used: it leases ranges and keeps the unused
// rest in memory, so "never reused" would depend on its lease bookkeeping
// around crashes and Release; with a plain counter it follows from one
// committed transaction. One fsync per new chat is cheap.
func (s *Store) NextPlatformChatID(ctx context.Context) (string, error) {
	key := []byte(keySequence)
	var next uint64
	err := s.update(ctx, func(txn *badger.Txn) error {
		cur, err := getValue[sequenceValue](txn, key, versionSequence)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if cur.Last == math.MaxUint64 {
			return fmt.Errorf("sequence %q is exhausted: %w", key, ErrCorrupt)
		}
		next = cur.Last + 1
		return setValue(txn, key, versionSequence, sequenceValue{Last: next})
	})
	if err != nil {
		return "", fmt.Errorf("failed to take next platform_chat_id: %w", err)
	}
	return strconv.FormatUint(next, 10), nil
}

// RaisePlatformChatID implements actors.Store: the next platform_chat_id
// handed out is above atLeast.
func (s *Store) RaisePlatformChatID(ctx context.Context, atLeast uint64) error {
	key := []byte(keySequence)
	err := s.update(ctx, func(txn *badger.Txn) error {
		cur, err := getValue[sequenceValue](txn, key, versionSequence)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if cur.Last >= atLeast {
			return nil
		}
		return setValue(txn, key, versionSequence, sequenceValue{Last: atLeast})
	})
	if err != nil {
		return fmt.Errorf("failed to raise the platform_chat_id sequence to %d: %w", atLeast, err)
	}
	return nil
}
