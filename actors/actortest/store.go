package actortest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/surfaces-bot/surfaces/actors"
)

// Store is an in-memory actors.Store for unit tests of one actor. Tests of
// durability use persistence.Store on a real Badger instead.
type Store struct {
	mu    sync.Mutex
	users map[string]actors.UserRecord
	rooms map[string]actors.RoomRecord
	saved map[string][]actors.SavedContext
	seq   int
	fail  error
}

var _ actors.Store = (*Store)(nil)

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{users: map[string]actors.UserRecord{}, rooms: map[string]actors.RoomRecord{}, saved: map[string][]actors.SavedContext{}}
}

// FailWrites makes later writes fail with err (nil: succeed again).
func (s *Store) FailWrites(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

// GetUser implements actors.Store.
func (s *Store) GetUser(_ context.Context, id string) (actors.UserRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return u, fmt.Errorf("user %s: %w", id, actors.ErrNotFound)
	}
	return u, nil
}

// PutUser implements actors.Store.
func (s *Store) PutUser(_ context.Context, u actors.UserRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.users[u.UserID] = u
	return nil
}

// ListUsers implements actors.Store.
func (s *Store) ListUsers(context.Context) ([]actors.UserRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]actors.UserRecord, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b actors.UserRecord) int { return cmp.Compare(a.UserID, b.UserID) })
	return out, nil
}

// GetRoom implements actors.Store.
func (s *Store) GetRoom(_ context.Context, id string) (actors.RoomRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[id]
	if !ok {
		return r, fmt.Errorf("room %s: %w", id, actors.ErrNotFound)
	}
	r.Staged = slices.Clone(r.Staged)
	return r, nil
}

// PutRoom implements actors.Store.
func (s *Store) PutRoom(_ context.Context, r actors.RoomRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	r.Staged = slices.Clone(r.Staged)
	s.rooms[r.RoomID] = r
	return nil
}

// ListRooms implements actors.Store.
func (s *Store) ListRooms(_ context.Context, userID string) ([]actors.RoomRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []actors.RoomRecord
	for _, r := range s.rooms {
		if r.OwnerID == userID {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b actors.RoomRecord) int { return cmp.Compare(a.ChatIndex, b.ChatIndex) })
	return out, nil
}

// NextPlatformChatID implements actors.Store.
func (s *Store) NextPlatformChatID(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return "", s.fail
	}
	s.seq++
	return strconv.Itoa(s.seq), nil
}

// PutSavedContext implements actors.Store.
func (s *Store) PutSavedContext(_ context.Context, c actors.SavedContext) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.saved[c.UserID] = append(s.saved[c.UserID], c)
	return nil
}

// ListSavedContexts implements actors.Store.
func (s *Store) ListSavedContexts(_ context.Context, userID string) ([]actors.SavedContext, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.saved[userID]), nil
}

// Registry is a fixed actors.Registry: Users maps user ids to agent ids;
// others get the first agent, or ErrAccessDenied when Deny is set.
type Registry struct {
	List  []actors.AgentRef
	Users map[string]string
	Deny  bool
}

var _ actors.Registry = (*Registry)(nil)

// AgentFor implements actors.Registry.
func (r *Registry) AgentFor(userID string) (actors.AgentRef, bool, error) {
	if id, ok := r.Users[userID]; ok {
		a, found := r.Agent(id)
		if !found {
			return a, false, fmt.Errorf("agent %s: %w", id, actors.ErrUnknownAgent)
		}
		return a, true, nil
	}
	if r.Deny || len(r.List) == 0 {
		return actors.AgentRef{}, false, fmt.Errorf("user %s: %w", userID, actors.ErrAccessDenied)
	}
	return r.List[0], false, nil
}

// Agent implements actors.Registry.
func (r *Registry) Agent(id string) (actors.AgentRef, bool) {
	for _, a := range r.List {
		if a.ID == id {
			return a, true
		}
	}
	return actors.AgentRef{}, false
}

// Agents implements actors.Registry.
func (r *Registry) Agents() []actors.AgentRef { return slices.Clone(r.List) }
