package actortest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/surfaces-bot/surfaces/actors"
)

// Store is an in-memory actors.Store for unit tests of one actor. Tests of
// durability use persistence.Store on a real Badger instead.
//
// It behaves as persistence.Store does, which RunStoreContract checks for
// both: a cancelled context fails every call, records without their identity
// are refused, saving a context under an existing name replaces it, lists
// are ordered as Badger orders them, and no record it returns shares memory
// with what it keeps. Unlike Badger it keeps times exactly as given (zone
// and monotonic reading included); the contract compares them by instant.
type Store struct {
	mu    sync.Mutex
	users map[string]actors.UserRecord
	rooms map[string]actors.RoomRecord
	saved map[string]map[string]actors.SavedContext // user id -> name -> context
	seq   int
	fail  error
	// failReads makes reads fail (FailReads); readsLeft counts how many
	// more, or is negative for "until cleared".
	failReads error
	readsLeft int
	// heldRebinds, when set, is waited on by NextPlatformChatID and
	// ListSavedContexts (HoldRebinds).
	heldRebinds chan struct{}
	// failedReads counts the reads refused (FailedReads).
	failedReads int
	// held, while not nil, blocks room writes until it is closed.
	held chan struct{}
}

var _ actors.Store = (*Store)(nil)

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		users: map[string]actors.UserRecord{},
		rooms: map[string]actors.RoomRecord{},
		saved: map[string]map[string]actors.SavedContext{},
	}
}

// FailWrites makes later writes fail with err (nil: succeed again).
func (s *Store) FailWrites(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

// HoldRoomWrites makes later PutRoom calls wait (or fail with their
// context's error) until release is called, as a slow disk would: tests
// see what happens before a write lands.
func (s *Store) HoldRoomWrites() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := make(chan struct{})
	s.held = held
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.held == held {
				s.held = nil
			}
			close(held)
		})
	}
}

// HoldRebinds makes later NextPlatformChatID and ListSavedContexts calls
// (the store work of the commands that rebind a room: !clear, !agent,
// !load) wait, or fail with their context's error, until release is
// called, so a test can crash an actor while such a command is in flight.
func (s *Store) HoldRebinds() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := make(chan struct{})
	s.heldRebinds = held
	return sync.OnceFunc(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.heldRebinds == held {
			s.heldRebinds = nil
		}
		close(held)
	})
}

// waitRebind waits while HoldRebinds holds.
func (s *Store) waitRebind(ctx context.Context) error {
	s.mu.Lock()
	held := s.heldRebinds
	s.mu.Unlock()
	if held == nil {
		return nil
	}
	select {
	case <-held:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// FailReads makes later reads (Get*, List*) fail with err (nil: succeed
// again), as a disk that went away would.
func (s *Store) FailReads(err error) {
	s.FailNextReads(-1, err)
}

// FailNextReads makes the next n reads fail with err (n < 0: every read until
// FailReads(nil)).
func (s *Store) FailNextReads(n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failReads, s.readsLeft = err, n
}

// readable reports why a read must not happen: a cancelled ctx or FailReads.
func (s *Store) readable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failReads == nil || s.readsLeft == 0 {
		return nil
	}
	if s.readsLeft > 0 {
		s.readsLeft--
	}
	s.failedReads++
	return s.failReads
}

// FailedReads is how many reads FailReads or FailNextReads refused.
func (s *Store) FailedReads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failedReads
}

// writable reports why a write must not happen: a cancelled ctx or
// FailWrites. Callers hold s.mu.
func (s *Store) writable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.fail
}

// GetUser implements actors.Store.
func (s *Store) GetUser(ctx context.Context, id string) (actors.UserRecord, error) {
	if err := s.readable(ctx); err != nil {
		return actors.UserRecord{}, fmt.Errorf("failed to get user %q: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return actors.UserRecord{}, fmt.Errorf("user %s: %w", id, actors.ErrNotFound)
	}
	return u, nil
}

// PutUser implements actors.Store.
func (s *Store) PutUser(ctx context.Context, u actors.UserRecord) error {
	if u.UserID == "" {
		return errors.New("failed to put user: empty user id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return fmt.Errorf("failed to put user %q: %w", u.UserID, err)
	}
	s.users[u.UserID] = u
	return nil
}

// ListUsers implements actors.Store: every user, ordered by user id.
func (s *Store) ListUsers(ctx context.Context) ([]actors.UserRecord, error) {
	if err := s.readable(ctx); err != nil {
		return nil, fmt.Errorf("failed to list users: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Collect(maps.Values(s.users))
	slices.SortFunc(out, func(a, b actors.UserRecord) int { return cmp.Compare(a.UserID, b.UserID) })
	return out, nil
}

// GetRoom implements actors.Store.
func (s *Store) GetRoom(ctx context.Context, id string) (actors.RoomRecord, error) {
	if err := s.readable(ctx); err != nil {
		return actors.RoomRecord{}, fmt.Errorf("failed to get room %q: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[id]
	if !ok {
		return actors.RoomRecord{}, fmt.Errorf("room %s: %w", id, actors.ErrNotFound)
	}
	return copyRoom(r), nil
}

// PutRoom implements actors.Store.
func (s *Store) PutRoom(ctx context.Context, r actors.RoomRecord) error {
	if err := r.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	if held := s.held; held != nil {
		s.mu.Unlock()
		select {
		case <-held:
		case <-ctx.Done():
			return fmt.Errorf("failed to put room %q: %w", r.RoomID, ctx.Err())
		}
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return fmt.Errorf("failed to put room %q: %w", r.RoomID, err)
	}
	if old, ok := s.rooms[r.RoomID]; ok && old.Epoch > r.Epoch {
		return fmt.Errorf("failed to put room %q of epoch %d, stored at %d: %w", r.RoomID, r.Epoch, old.Epoch, actors.ErrStaleEpoch)
	}
	s.rooms[r.RoomID] = copyRoom(r)
	return nil
}

// ActivateRoom implements actors.Store.
func (s *Store) ActivateRoom(ctx context.Context, id string) (actors.RoomRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return actors.RoomRecord{}, fmt.Errorf("failed to activate room %q: %w", id, err)
	}
	r, ok := s.rooms[id]
	if !ok {
		return actors.RoomRecord{}, fmt.Errorf("room %s: %w", id, actors.ErrNotFound)
	}
	r.Epoch++
	s.rooms[id] = r
	return copyRoom(r), nil
}

// PutUsers implements actors.Store, one PutUser after another once every
// user has an id.
func (s *Store) PutUsers(ctx context.Context, users []actors.UserRecord) error {
	for _, u := range users {
		if u.UserID == "" {
			return errors.New("failed to put users: empty user id")
		}
	}
	for _, u := range users {
		if err := s.PutUser(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

// PutRooms implements actors.Store, one PutRoom after another.
func (s *Store) PutRooms(ctx context.Context, rooms []actors.RoomRecord) error {
	for _, r := range rooms {
		if err := s.PutRoom(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// ListRooms implements actors.Store: userID's rooms, archived included,
// ordered by ChatIndex, then room id.
func (s *Store) ListRooms(ctx context.Context, userID string) ([]actors.RoomRecord, error) {
	if err := s.readable(ctx); err != nil {
		return nil, fmt.Errorf("failed to list rooms of %q: %w", userID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []actors.RoomRecord
	for _, r := range s.rooms {
		if r.OwnerID == userID {
			out = append(out, copyRoom(r))
		}
	}
	slices.SortFunc(out, func(a, b actors.RoomRecord) int {
		return cmp.Or(cmp.Compare(a.ChatIndex, b.ChatIndex), cmp.Compare(a.RoomID, b.RoomID))
	})
	return out, nil
}

// copyRoom returns r sharing no memory with it (Staged, TurnInFlight).
func copyRoom(r actors.RoomRecord) actors.RoomRecord {
	r.Staged = slices.Clone(r.Staged)
	r.FirstReplyMs = slices.Clone(r.FirstReplyMs)
	r.Queue = slices.Clone(r.Queue)
	r.Taken = slices.Clone(r.Taken)
	if r.TurnInFlight != nil {
		t := *r.TurnInFlight
		if t.LastEdit != nil {
			e := *t.LastEdit
			t.LastEdit = &e
		}
		r.TurnInFlight = &t
	}
	if r.LastFailed != nil {
		f := *r.LastFailed
		r.LastFailed = &f
	}
	return r
}

// NextPlatformChatID implements actors.Store.
func (s *Store) NextPlatformChatID(ctx context.Context) (string, error) {
	if err := s.waitRebind(ctx); err != nil {
		return "", fmt.Errorf("failed to take next platform_chat_id: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return "", fmt.Errorf("failed to take next platform_chat_id: %w", err)
	}
	s.seq++
	return strconv.Itoa(s.seq), nil
}

// RaisePlatformChatID implements actors.Store.
func (s *Store) RaisePlatformChatID(ctx context.Context, atLeast uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return fmt.Errorf("failed to raise the platform_chat_id sequence: %w", err)
	}
	s.seq = max(s.seq, int(atLeast))
	return nil
}

// PutSavedContext implements actors.Store: saving under a name the user
// already saved replaces that context.
func (s *Store) PutSavedContext(ctx context.Context, c actors.SavedContext) error {
	if c.UserID == "" || c.Name == "" {
		return errors.New("failed to put saved context: empty user id or name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return fmt.Errorf("failed to put saved context %q of %q: %w", c.Name, c.UserID, err)
	}
	if s.saved[c.UserID] == nil {
		s.saved[c.UserID] = map[string]actors.SavedContext{}
	}
	s.saved[c.UserID][c.Name] = c
	return nil
}

// ListSavedContexts implements actors.Store: userID's saved contexts,
// oldest first, then by name.
func (s *Store) ListSavedContexts(ctx context.Context, userID string) ([]actors.SavedContext, error) {
	if err := s.waitRebind(ctx); err != nil {
		return nil, fmt.Errorf("failed to list saved contexts of %q: %w", userID, err)
	}
	if err := s.readable(ctx); err != nil {
		return nil, fmt.Errorf("failed to list saved contexts of %q: %w", userID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Collect(maps.Values(s.saved[userID]))
	slices.SortFunc(out, func(a, b actors.SavedContext) int {
		return cmp.Or(a.SavedAt.Compare(b.SavedAt), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}
