package agents

import (
	"crypto/sha256"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/surfaces-bot/surfaces/actors"
)

// UnassignedPolicy says what happens to users missing from user_agents
// (PRODUCT R5.2, config key agents.unassigned).
type UnassignedPolicy string

// The unassigned-user policies.
const (
	// PolicyDefault gives unassigned users the first agent (assigned=false).
	PolicyDefault UnassignedPolicy = "default"
	// PolicyDeny refuses them with an error wrapping actors.ErrAccessDenied.
	PolicyDeny UnassignedPolicy = "deny"
)

// Registry is the agent registry (actors.Registry). It is safe for
// concurrent use: readers load an immutable Snapshot through an atomic
// pointer, and Replace or Reload swap in a whole new one, so a reader never
// sees half of an edit.
type Registry struct {
	cur atomic.Pointer[Snapshot]
	// path and policy are what Reload reads with; reloadMu serialises
	// reloads so that two of them cannot interleave read and swap.
	path     string
	opts     RegistryOptions
	reloadMu sync.Mutex
}

var _ actors.Registry = (*Registry)(nil)

// Snapshot is one validated version of the registry. It is immutable.
type Snapshot struct {
	source     string
	policy     UnassignedPolicy
	baseURL    string
	agents     []actors.AgentRef
	byID       map[string]actors.AgentRef
	userAgents map[string]string
	// digest is the SHA-256 of the file content the snapshot was read
	// from (zero when it was not read from a file); Watch compares to it.
	digest [sha256.Size]byte
}

// NewRegistry returns a registry serving s (which must not be nil).
func NewRegistry(s *Snapshot) *Registry {
	r := &Registry{path: s.source, opts: RegistryOptions{Policy: s.policy, BaseURL: s.baseURL}}
	r.cur.Store(s)
	return r
}

// LoadRegistryFile reads and validates the registry at path. Every problem
// is reported, one per line, each naming the file, the entry and the
// problem; the error wraps ErrInvalidRegistry (or the read error).
func LoadRegistryFile(path string, policy UnassignedPolicy) (*Registry, error) {
	return LoadRegistry(path, RegistryOptions{Policy: policy})
}

// LoadRegistry is LoadRegistryFile with all options; Reload keeps them.
func LoadRegistry(path string, opts RegistryOptions) (*Registry, error) {
	s, err := ReadSnapshotWith(path, opts)
	if err != nil {
		return nil, err
	}
	return NewRegistry(s), nil
}

// ReadSnapshot reads and validates the registry file at path.
func ReadSnapshot(path string, policy UnassignedPolicy) (*Snapshot, error) {
	return ReadSnapshotWith(path, RegistryOptions{Policy: policy})
}

// ReadSnapshotWith is ReadSnapshot with all options.
func ReadSnapshotWith(path string, opts RegistryOptions) (*Snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read registry %s: %w", path, err)
	}
	s, err := ParseSnapshotWith(path, data, opts)
	if err != nil {
		return nil, err
	}
	s.digest = sha256.Sum256(data)
	return s, nil
}

// Replace swaps in s for every later call. Calls already running finish on
// the snapshot they loaded.
func (r *Registry) Replace(s *Snapshot) {
	r.cur.Store(s)
}

// Reload re-reads the file the registry was loaded from (or whose snapshot
// was last given to NewRegistry) with the same policy. On error the
// current snapshot stays in place and the error says why, so a broken edit
// never takes the bot down (PRODUCT R5.3).
func (r *Registry) Reload() error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	s, err := ReadSnapshotWith(r.path, r.opts)
	if err != nil {
		return fmt.Errorf("failed to reload registry, keeping the previous one: %w", err)
	}
	r.cur.Store(s)
	return nil
}

// Snapshot returns the current snapshot.
func (r *Registry) Snapshot() *Snapshot { return r.cur.Load() }

// AgentFor implements actors.Registry.
func (r *Registry) AgentFor(userID string) (actors.AgentRef, bool, error) {
	return r.cur.Load().AgentFor(userID)
}

// Agent implements actors.Registry.
func (r *Registry) Agent(id string) (actors.AgentRef, bool) { return r.cur.Load().Agent(id) }

// Agents implements actors.Registry.
func (r *Registry) Agents() []actors.AgentRef { return r.cur.Load().Agents() }

// Source is the file (or name) the snapshot was read from.
func (s *Snapshot) Source() string { return s.source }

// Policy is the unassigned-user policy of the snapshot.
func (s *Snapshot) Policy() UnassignedPolicy { return s.policy }

// AgentFor returns userID's agent. An unassigned user gets the first agent
// with assigned=false under PolicyDefault, and an error wrapping
// actors.ErrAccessDenied under PolicyDeny.
func (s *Snapshot) AgentFor(userID string) (actors.AgentRef, bool, error) {
	if id, ok := s.userAgents[userID]; ok {
		// Validation guarantees the id exists.
		return s.byID[id], true, nil
	}
	if s.policy == PolicyDeny {
		return actors.AgentRef{}, false, fmt.Errorf("failed to find an agent for %s: %w: not in user_agents", userID, actors.ErrAccessDenied)
	}
	return s.agents[0], false, nil
}

// Agent looks an agent up by id.
func (s *Snapshot) Agent(id string) (actors.AgentRef, bool) {
	a, ok := s.byID[id]
	return a, ok
}

// Agents lists the agents in file order; the slice is a copy.
func (s *Snapshot) Agents() []actors.AgentRef {
	return append([]actors.AgentRef(nil), s.agents...)
}

// UserAgents returns a copy of the user → agent id mapping.
func (s *Snapshot) UserAgents() map[string]string {
	m := make(map[string]string, len(s.userAgents))
	for k, v := range s.userAgents {
		m[k] = v
	}
	return m
}
