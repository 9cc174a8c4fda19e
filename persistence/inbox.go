package persistence

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The appservice inbox: the transactions the homeserver pushed that the
// actor tree has not finished with (matrix.Appservice). A transaction is
// kept here before it is answered 200, so a crash after the answer hands it
// to the tree again at the next start instead of losing it; it is removed
// once every event in it was acked.

// inboxValue is one kept transaction. Seq orders the inbox (arrival time
// in nanoseconds, strictly increasing within a process); Body is
// the transaction's JSON as the homeserver sent it, kept as JSON rather
// than base64.
type inboxValue struct {
	Seq  int64           `json:"seq"`
	Body json.RawMessage `json:"body"`
}

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
	k := inboxKey(key)
	err = s.update(ctx, func(txn *badger.Txn) error {
		added = false
		_, err := txn.Get(k)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, badger.ErrKeyNotFound):
			return fmt.Errorf("failed to read key %q: %w", k, err)
		}
		added = true
		return setValue(txn, k, versionInbox, inboxValue{Seq: s.nextInboxSeq(), Body: body})
	})
	if err != nil {
		return false, fmt.Errorf("failed to add %q to the inbox: %w", key, err)
	}
	return added, nil
}

// nextInboxSeq is the wall clock in nanoseconds, made strictly increasing
// within the process: a restart starts from a later clock.
func (s *Store) nextInboxSeq() int64 {
	for {
		last := s.inboxSeq.Load()
		next := max(time.Now().UnixNano(), last+1)
		if s.inboxSeq.CompareAndSwap(last, next) {
			return next
		}
	}
}

// RemoveFromInbox forgets the transaction kept under key; removing one
// that is not kept is not an error.
func (s *Store) RemoveFromInbox(ctx context.Context, key string) error {
	k := inboxKey(key)
	err := s.update(ctx, func(txn *badger.Txn) error {
		if err := txn.Delete(k); err != nil {
			return fmt.Errorf("failed to delete key %q: %w", k, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("failed to remove %q from the inbox: %w", key, err)
	}
	return nil
}

// Inbox returns the kept transactions, oldest first: their keys and, at
// the same index, their bodies.
func (s *Store) Inbox(ctx context.Context) (keys []string, bodies [][]byte, err error) {
	type entry struct {
		key string
		v   inboxValue
	}
	var entries []entry
	err = s.view(ctx, func(txn *badger.Txn) error {
		prefix := []byte(prefixInbox)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 16})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.KeyCopy(nil)
			raw, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("failed to read value of %q: %w", k, err)
			}
			v, err := decodeValue[inboxValue](k, raw, versionInbox)
			if err != nil {
				return err
			}
			entries = append(entries, entry{key: unescapeKeyPart(string(k[len(prefix):])), v: v})
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("failed to read the inbox: %w", err)
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.v.Seq, b.v.Seq), cmp.Compare(a.key, b.key))
	})
	for _, e := range entries {
		keys = append(keys, e.key)
		bodies = append(bodies, e.v.Body)
	}
	return keys, bodies, nil
}
