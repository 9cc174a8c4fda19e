package kit_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// sharedStore is a Store the members of a cluster share: one sequence,
// and the chat id lock (actors.ChatIDLock).
type sharedStore struct {
	*actortest.Store
	mu    sync.Mutex
	locks int
}

func (s *sharedStore) WithChatIDLock(ctx context.Context, fn func(context.Context) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locks++
	return fn(ctx)
}

// Two members reserve chat ids on one homeserver mark, each with its own
// view of it. A member raising the mark to a value found in a room's
// state, below the block another member reserved since, must not lower
// the mark under ids that member goes on handing out: every id handed out
// stays at or under the mark (PRODUCT R11).
func TestMembersNeverLowerTheChatIDMark(t *testing.T) {
	ctx := context.Background()
	store := &sharedStore{Store: actortest.NewStore()}
	mx := actortest.NewMatrix()
	x := kit.Prepare(actors.Deps{Store: store, Matrix: mx}).Store
	y := kit.Prepare(actors.Deps{Store: store, Matrix: mx}).Store
	take := func(s actors.Store) uint64 {
		t.Helper()
		id, err := s.NextPlatformChatID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.ParseUint(id, 10, 64)
		if reserved := mx.Reserved(); n > reserved {
			t.Fatalf("platform_chat_id %d handed out with the mark at %d", n, reserved)
		}
		return n
	}
	take(x) // reserves the first block
	take(y) // y reads the mark at its first take, and reserves a block
	for take(x) < 301 {
		// x goes two blocks past what y saw reserved
	}
	before := mx.Reserved()
	// y finds an id in a room's state above what y saw reserved, below
	// what x reserved since.
	if err := y.RaisePlatformChatID(ctx, before-100); err != nil {
		t.Fatal(err)
	}
	if got := mx.Reserved(); got < before {
		t.Fatalf("the mark went down from %d to %d", before, got)
	}
	for range 80 {
		take(x)
	}
	if store.locks == 0 {
		t.Fatal("no reservation took the shared store's lock")
	}
}
