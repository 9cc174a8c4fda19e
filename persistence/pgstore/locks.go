package pgstore

import (
	"context"
	"fmt"
	"time"
)

// The locks the members of a cluster take around work that must not run
// on two of them at once, though it is not the database's own: writes to
// the homeserver, and the set-up of the crypto store's schema and the
// bot's cross-signing keys.

// unlockTimeout bounds releasing a session lock; past it the connection is
// closed, which releases it too.
const unlockTimeout = 5 * time.Second

// WithChatIDLock implements actors.ChatIDLock: fn runs holding an advisory
// lock every process on the database shares, so that one member at a time
// reads and raises the homeserver's platform_chat_id mark. A store opened
// without Options.Shared holds the database alone and runs fn at once.
func (s *Store) WithChatIDLock(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.holder != nil {
		return s.do(ctx, fn)
	}
	return s.withSessionLock(ctx, lockChatIDs, "the chat id reservation lock", fn)
}

// WithCryptoSetupLock runs fn holding an advisory lock every process on
// the database shares: the members of a cluster with grains and
// encryption each open the crypto store and set up their device at start,
// and the store's schema upgrades and the first member's making of the
// bot's cross-signing keys must not run twice at once.
func (s *Store) WithCryptoSetupLock(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.withSessionLock(ctx, lockCryptoSetup, "the crypto set-up lock", fn)
}

// withSessionLock runs fn holding the session-level advisory lock key on a
// connection of its own, kept out of the pool meanwhile: fn makes requests
// to the homeserver while it holds the lock. If the lock cannot be
// released, the connection is closed, which releases it.
func (s *Store) withSessionLock(ctx context.Context, key int64, name string, fn func(ctx context.Context) error) error {
	return s.do(ctx, func(ctx context.Context) error {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("failed to take %s: %w", name, err)
		}
		defer conn.Release()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
			return fmt.Errorf("failed to take %s: %w", name, err)
		}
		defer func() {
			unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
			defer cancel()
			if _, err := conn.Exec(unlockCtx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
				_ = conn.Conn().Close(unlockCtx)
			}
		}()
		return fn(ctx)
	})
}
