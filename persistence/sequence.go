package persistence

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/dgraph-io/badger/v4"
)

// The platform_chat_id sequence, the one counter shared by the whole bot:
// every id it hands out is durable before it is used and never comes back
// (the homeserver reservation in actors/internal/kit/chatids.go guards a lost disk).

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
