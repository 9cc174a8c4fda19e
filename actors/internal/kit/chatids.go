package kit

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/surfaces-bot/surfaces/actors"
)

// chatIDBlock is how many platform_chat_ids one account-data write reserves.
const chatIDBlock = 100

// ReservingStore hands out platform_chat_ids so that none ever comes back,
// not even after the state directory is lost (PRODUCT R11): before an id of
// a new block goes out, the block is reserved in the bot's account data on
// the homeserver, and on first use the local sequence is raised above
// everything ever reserved. A restart therefore skips the rest of the
// reserved block; ids are plentiful, reused ones are not harmless. The
// members of a cluster share the sequence and the mark: each reserves
// under the Store's actors.ChatIDLock (see reserve).
type ReservingStore struct {
	actors.Store
	state actors.StateEvents

	mu       sync.Mutex
	ready    bool
	reserved uint64
}

// NextPlatformChatID implements Store.
func (s *ReservingStore) NextPlatformChatID(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready {
		reserved, err := s.state.ReservedChatIDs(ctx)
		if err != nil {
			return "", fmt.Errorf("failed to read the reserved platform_chat_ids: %w", err)
		}
		// Ids up to the mark may be held by agents whatever the local
		// disk says.
		if err := s.Store.RaisePlatformChatID(ctx, reserved); err != nil {
			return "", err
		}
		s.reserved, s.ready = reserved, true
	}
	id, err := s.Store.NextPlatformChatID(ctx)
	if err != nil {
		return "", err
	}
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return "", fmt.Errorf("failed to read platform_chat_id %q: %w", id, err)
	}
	if n > s.reserved {
		if err := s.reserve(ctx, n, n+chatIDBlock-1); err != nil {
			// n is used up locally and never handed out.
			return "", fmt.Errorf("failed to reserve platform_chat_ids before handing out %s: %w", id, err)
		}
	}
	return id, nil
}

// reserve makes the homeserver's mark cover need, writing upTo. On a Store
// several processes share (actors.ChatIDLock) another member may have
// moved the mark since this one last saw it: under the lock the mark is
// read first, left as it is when it covers need already, and never
// lowered. s.mu is held.
func (s *ReservingStore) reserve(ctx context.Context, need, upTo uint64) error {
	lock, shared := s.Store.(actors.ChatIDLock)
	if !shared {
		if err := s.state.ReserveChatIDs(ctx, upTo); err != nil {
			return err
		}
		s.reserved = upTo
		return nil
	}
	return lock.WithChatIDLock(ctx, func(ctx context.Context) error {
		mark, err := s.state.ReservedChatIDs(ctx)
		if err != nil {
			return fmt.Errorf("failed to read the reserved platform_chat_ids: %w", err)
		}
		if mark >= need {
			s.reserved = mark
			return nil
		}
		if err := s.state.ReserveChatIDs(ctx, upTo); err != nil {
			return err
		}
		s.reserved = upTo
		return nil
	})
}

// RaisePlatformChatID implements Store, and reserves up to atLeast too: a
// value found in a room's state was handed out.
func (s *ReservingStore) RaisePlatformChatID(ctx context.Context, atLeast uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.Store.RaisePlatformChatID(ctx, atLeast); err != nil {
		return err
	}
	if s.ready && atLeast > s.reserved {
		if err := s.reserve(ctx, atLeast, atLeast); err != nil {
			return fmt.Errorf("failed to reserve platform_chat_ids up to %d: %w", atLeast, err)
		}
	}
	return nil
}
