package actortest

import (
	"fmt"
	"slices"
	"sync"

	"github.com/surfaces-bot/surfaces/actors"
)

// Registry is an in-memory actors.Registry: Users maps user ids to agent
// ids; others get the first agent of List, or ErrAccessDenied when Deny is
// set. Set the fields before the actors start; change the mapping while they
// run with Assign, as an edit of the registry file would.
type Registry struct {
	List  []actors.AgentRef
	Users map[string]string
	Deny  bool

	mu sync.RWMutex
}

var _ actors.Registry = (*Registry)(nil)

// Assign maps userID to agentID (empty: remove the mapping), safely while
// actors read the registry.
func (r *Registry) Assign(userID, agentID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	users := make(map[string]string, len(r.Users)+1)
	for k, v := range r.Users {
		users[k] = v
	}
	if agentID == "" {
		delete(users, userID)
	} else {
		users[userID] = agentID
	}
	r.Users = users
}

// AgentFor implements actors.Registry.
func (r *Registry) AgentFor(userID string) (actors.AgentRef, bool, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if id, ok := r.Users[userID]; ok {
		a, found := r.agent(id)
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
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.agent(id)
}

func (r *Registry) agent(id string) (actors.AgentRef, bool) {
	for _, a := range r.List {
		if a.ID == id {
			return a, true
		}
	}
	return actors.AgentRef{}, false
}

// Agents implements actors.Registry.
func (r *Registry) Agents() []actors.AgentRef {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.List)
}
