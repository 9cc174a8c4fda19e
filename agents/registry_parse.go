package agents

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/surfaces-bot/surfaces/actors"
)

// RegistryError is one validation problem of a registry file. Its message
// is one line: `registry FILE: ENTRY: PROBLEM`.
type RegistryError struct {
	Source  string // the file
	Entry   string // e.g. `agents[1] (id "agent-0")`; empty for the whole file
	Problem string
}

// Error implements error: one line naming the file, the entry and the problem.
func (e *RegistryError) Error() string {
	if e.Entry == "" {
		return "registry " + e.Source + ": " + e.Problem
	}
	return "registry " + e.Source + ": " + e.Entry + ": " + e.Problem
}

// Unwrap makes every RegistryError match ErrInvalidRegistry.
func (e *RegistryError) Unwrap() error { return ErrInvalidRegistry }

// registryFile is the seed's format (config/matrix-agents.example.yaml).
// Unknown keys are ignored so that files written for the seed still load.
type registryFile struct {
	UserAgents map[string]string `yaml:"user_agents"`
	Agents     []registryAgent   `yaml:"agents"`
}

type registryAgent struct {
	ID            string `yaml:"id"`
	Label         string `yaml:"label"`
	BaseURL       string `yaml:"base_url"`
	WorkspacePath string `yaml:"workspace_path"`
}

// userIDPattern is the shape of a Matrix user id: @localpart:server, where
// the server part may carry a port.
var userIDPattern = regexp.MustCompile(`^@[^:\s]+:[^\s:]+(:[0-9]+)?$`)

// RegistryOptions are what a registry file is read with, besides the file.
type RegistryOptions struct {
	Policy UnassignedPolicy
	// BaseURL is used by entries without base_url (the seed's
	// AGENT_BASE_URL); empty means every entry needs its own.
	BaseURL string
}

// ParseSnapshot validates registry YAML. source names the file in errors.
// All problems are reported (joined, one per line), not just the first.
func ParseSnapshot(source string, data []byte, policy UnassignedPolicy) (*Snapshot, error) {
	return ParseSnapshotWith(source, data, RegistryOptions{Policy: policy})
}

// ParseSnapshotWith is ParseSnapshot with all options.
func ParseSnapshotWith(source string, data []byte, opts RegistryOptions) (*Snapshot, error) {
	policy := opts.Policy
	fail := func(entry, format string, args ...any) error {
		return &RegistryError{Source: source, Entry: entry, Problem: fmt.Sprintf(format, args...)}
	}
	if policy != PolicyDefault && policy != PolicyDeny {
		return nil, fail("", "unassigned policy %q is neither %q nor %q", policy, PolicyDefault, PolicyDeny)
	}
	var f registryFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fail("", "invalid YAML: %s", oneLine(err.Error()))
	}
	var errs []error
	s := &Snapshot{source: source, policy: policy, baseURL: opts.BaseURL, byID: map[string]actors.AgentRef{}, userAgents: map[string]string{}}
	if len(f.Agents) == 0 {
		errs = append(errs, fail("agents", "at least one agent is required"))
	}
	for i, a := range f.Agents {
		entry := fmt.Sprintf("agents[%d] (id %q)", i, a.ID)
		if a.BaseURL == "" {
			a.BaseURL = opts.BaseURL
		}
		ref, problems := validateAgent(a)
		if _, dup := s.byID[a.ID]; dup && a.ID != "" {
			problems = append(problems, "duplicate id")
		}
		for _, p := range problems {
			errs = append(errs, fail(entry, "%s", p))
		}
		if _, dup := s.byID[a.ID]; !dup && a.ID != "" {
			s.byID[a.ID] = ref
		}
		s.agents = append(s.agents, ref)
	}
	users := make([]string, 0, len(f.UserAgents))
	for u := range f.UserAgents {
		users = append(users, u)
	}
	slices.Sort(users) // stable error order
	for _, u := range users {
		id := f.UserAgents[u]
		entry := fmt.Sprintf("user_agents[%q]", u)
		if !userIDPattern.MatchString(u) {
			errs = append(errs, fail(entry, "user id must look like @local:server"))
		}
		if _, ok := s.byID[id]; !ok {
			errs = append(errs, fail(entry, "unknown agent %q", id))
		}
		s.userAgents[u] = id
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// validateAgent checks one agents[] entry and returns it as an AgentRef
// (label defaulting to the id) with its problems.
func validateAgent(a registryAgent) (actors.AgentRef, []string) {
	var problems []string
	if strings.TrimSpace(a.ID) == "" {
		problems = append(problems, "empty id")
	}
	if a.BaseURL == "" {
		problems = append(problems, "base_url is required")
	} else if err := checkBaseURL(a.BaseURL); err != "" {
		problems = append(problems, "base_url "+err)
	}
	switch {
	case a.WorkspacePath == "":
		problems = append(problems, "workspace_path is required")
	case !path.IsAbs(a.WorkspacePath):
		problems = append(problems, fmt.Sprintf("workspace_path %q is not absolute", a.WorkspacePath))
	case path.Clean(a.WorkspacePath) == "/":
		// Files from users land under it: never the whole file system.
		problems = append(problems, "workspace_path must not be /")
	default:
		// It may not exist yet on the bot's side (a volume mounted later),
		// but if it does it must be a directory.
		if info, err := os.Stat(a.WorkspacePath); err == nil && !info.IsDir() {
			problems = append(problems, fmt.Sprintf("workspace_path %q is not a directory", a.WorkspacePath))
		}
	}
	label := a.Label
	if label == "" {
		label = a.ID
	}
	ref := actors.AgentRef{ID: a.ID, Label: label, BaseURL: a.BaseURL, WorkspacePath: a.WorkspacePath}
	if a.WorkspacePath != "" {
		ref.WorkspacePath = path.Clean(a.WorkspacePath)
	}
	return ref, problems
}

// checkBaseURL returns what is wrong with a base_url, or "".
func checkBaseURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Sprintf("%q does not parse", raw)
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return fmt.Sprintf("%q must use http, https, ws or wss", raw)
	}
	if u.Hostname() == "" {
		return fmt.Sprintf("%q has no host", raw)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fmt.Sprintf("%q must not have a query or fragment", raw)
	}
	if _, err := NormalizeBaseURL(raw); err != nil {
		return fmt.Sprintf("%q is not usable", raw)
	}
	return ""
}

// oneLine folds a multi-line message (yaml.v3 reports several problems on
// separate lines) into one.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ; ")), " ")
}
