package agents

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
)

func TestLoadRegistryFixture(t *testing.T) {
	r, err := LoadRegistryFile("testdata/registry.yaml", PolicyDefault)
	if err != nil {
		t.Fatalf("LoadRegistryFile: %v", err)
	}
	want := []actors.AgentRef{
		{ID: "agent-0", Label: "Agent 0", BaseURL: "http://agents.example.org:7000/agent_0/", WorkspacePath: "/agents/0"},
		{ID: "agent-1", Label: "Agent 1", BaseURL: "https://agents.example.org/agent_1", WorkspacePath: "/agents/1"},
		{ID: "agent-2", Label: "agent-2", BaseURL: "ws://127.0.0.1:7000/agent_2/", WorkspacePath: "/agents/2"},
	}
	if got := r.Agents(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Agents() = %+v\nwant %+v", got, want)
	}
	for _, tc := range []struct {
		user     string
		want     string
		assigned bool
	}{
		{"@alice:example.org", "agent-0", true},
		{"@bob:example.org:8448", "agent-1", true},
		{"@carol:example.org", "agent-0", false},
	} {
		t.Run(tc.user, func(t *testing.T) {
			a, assigned, err := r.AgentFor(tc.user)
			if err != nil || a.ID != tc.want || assigned != tc.assigned {
				t.Fatalf("AgentFor(%q) = %q, %v, %v; want %q, %v", tc.user, a.ID, assigned, err, tc.want, tc.assigned)
			}
		})
	}
	if a, ok := r.Agent("agent-2"); !ok || a.ID != "agent-2" {
		t.Fatalf("Agent(agent-2) = %+v, %v", a, ok)
	}
	if _, ok := r.Agent("agent-9"); ok {
		t.Fatal("Agent(agent-9) found")
	}
}

func TestRegistryDenyPolicy(t *testing.T) {
	r, err := LoadRegistryFile("testdata/registry.yaml", PolicyDeny)
	if err != nil {
		t.Fatalf("LoadRegistryFile: %v", err)
	}
	if _, _, err := r.AgentFor("@carol:example.org"); !errors.Is(err, actors.ErrAccessDenied) {
		t.Fatalf("AgentFor(unassigned) err = %v, want ErrAccessDenied", err)
	}
	if a, assigned, err := r.AgentFor("@alice:example.org"); err != nil || !assigned || a.ID != "agent-0" {
		t.Fatalf("AgentFor(alice) = %+v, %v, %v", a, assigned, err)
	}
}

const validAgent = `
  - id: agent-0
    base_url: "http://h:7000/agent_0/"
    workspace_path: "/agents/0"
`

func TestRegistryValidation(t *testing.T) {
	aFile, err := filepath.Abs("registry_test.go") // a path that exists and is no directory
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		yaml string
		want string // the whole message after "registry FILE: "
	}{
		{"empty file", ``, `agents: at least one agent is required`},
		{"no agents", "user_agents: {}\nagents: []\n", `agents: at least one agent is required`},
		{"bad YAML", "agents: [\n", `invalid YAML: `},
		{"duplicate YAML key", "agents:" + validAgent + "agents:" + validAgent, `invalid YAML: `},
		{"duplicate id", "agents:" + validAgent + validAgent, `agents[1] (id "agent-0"): duplicate id`},
		{"empty id", "agents:\n  - base_url: http://h/\n    workspace_path: /a\n", `agents[0] (id ""): empty id`},
		{"missing base_url", "agents:\n  - id: a\n    workspace_path: /a\n", `agents[0] (id "a"): base_url is required`},
		{"bad scheme", "agents:\n  - id: a\n    base_url: ftp://h/\n    workspace_path: /a\n",
			`agents[0] (id "a"): base_url "ftp://h/" must use http, https, ws or wss`},
		{"no host", "agents:\n  - id: a\n    base_url: http:///x\n    workspace_path: /a\n",
			`agents[0] (id "a"): base_url "http:///x" has no host`},
		{"unparsable URL", "agents:\n  - id: a\n    base_url: \"http://[::1\"\n    workspace_path: /a\n",
			`agents[0] (id "a"): base_url "http://[::1" does not parse`},
		{"query in URL", "agents:\n  - id: a\n    base_url: \"http://h/?x=1\"\n    workspace_path: /a\n",
			`agents[0] (id "a"): base_url "http://h/?x=1" must not have a query or fragment`},
		{"missing workspace", "agents:\n  - id: a\n    base_url: http://h/\n",
			`agents[0] (id "a"): workspace_path is required`},
		{"relative workspace", "agents:\n  - id: a\n    base_url: http://h/\n    workspace_path: agents/0\n",
			`agents[0] (id "a"): workspace_path "agents/0" is not absolute`},
		{"root workspace", "agents:\n  - id: a\n    base_url: http://h/\n    workspace_path: /\n",
			`agents[0] (id "a"): workspace_path must not be /`},
		{"workspace is a file", "agents:\n  - id: a\n    base_url: http://h/\n    workspace_path: " + aFile + "\n",
			`agents[0] (id "a"): workspace_path "` + aFile + `" is not a directory`},
		{"unknown agent", "user_agents:\n  \"@a:x.org\": agent-9\nagents:" + validAgent,
			`user_agents["@a:x.org"]: unknown agent "agent-9"`},
		{"bad user id", "user_agents:\n  \"alice\": agent-0\nagents:" + validAgent,
			`user_agents["alice"]: user id must look like @local:server`},
		{"user id without server", "user_agents:\n  \"@alice\": agent-0\nagents:" + validAgent,
			`user_agents["@alice"]: user id must look like @local:server`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agents.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadRegistryFile(path, PolicyDefault)
			if !errors.Is(err, ErrInvalidRegistry) {
				t.Fatalf("err = %v, want ErrInvalidRegistry", err)
			}
			prefix := "registry " + path + ": "
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, prefix) {
					t.Fatalf("error line %q does not start with %q", line, prefix)
				}
			}
			if !strings.Contains(err.Error(), prefix+tc.want) {
				t.Fatalf("err = %q, want it to contain %q", err, prefix+tc.want)
			}
		})
	}
}

func TestRegistryReportsEveryProblem(t *testing.T) {
	yaml := "user_agents:\n  \"@a:x.org\": nope\nagents:\n  - id: a\n    base_url: ftp://h/\n    workspace_path: rel\n"
	_, err := ParseSnapshot("f.yaml", []byte(yaml), PolicyDefault)
	if err == nil {
		t.Fatal("no error")
	}
	if n := len(strings.Split(err.Error(), "\n")); n != 3 {
		t.Fatalf("got %d problems, want 3:\n%v", n, err)
	}
}

func TestRegistryBadPolicyAndMissingFile(t *testing.T) {
	if _, err := LoadRegistryFile("testdata/registry.yaml", "maybe"); !errors.Is(err, ErrInvalidRegistry) {
		t.Fatalf("bad policy err = %v", err)
	}
	if _, err := LoadRegistryFile(filepath.Join(t.TempDir(), "none.yaml"), PolicyDefault); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file err = %v", err)
	}
}

func TestRegistryReloadKeepsPreviousOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agents.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("agents:" + validAgent)
	r, err := LoadRegistryFile(path, PolicyDefault)
	if err != nil {
		t.Fatalf("LoadRegistryFile: %v", err)
	}
	write("agents: [")
	if err := r.Reload(); !errors.Is(err, ErrInvalidRegistry) {
		t.Fatalf("Reload of a broken file = %v", err)
	}
	if got := r.Agents(); len(got) != 1 || got[0].ID != "agent-0" {
		t.Fatalf("after a failed reload Agents() = %+v", got)
	}
	write("user_agents:\n  \"@a:x.org\": agent-1\nagents:" + validAgent + "  - id: agent-1\n    base_url: http://h/agent_1/\n    workspace_path: /agents/1\n")
	if err := r.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if a, assigned, _ := r.AgentFor("@a:x.org"); a.ID != "agent-1" || !assigned {
		t.Fatalf("after reload AgentFor = %+v, %v", a, assigned)
	}
}

// Readers racing with Replace always see one whole snapshot, never a mix of
// two. The test is meant for go test -race, which reports any unsynchronised
// access. Without it, it still checks that every read returns exactly what
// one of the two snapshots answers, and that every reader saw both snapshots
// (so the reads really did interleave with the swaps). It cannot fail when
// the registry is right; catching a torn read (say, policy and agents taken
// from two loads) depends on scheduling, hence the many reads per reader.
func TestRegistryConcurrentReplace(t *testing.T) {
	one, err := ParseSnapshot("one", []byte("agents:"+validAgent), PolicyDefault)
	if err != nil {
		t.Fatal(err)
	}
	two, err := ParseSnapshot("two", []byte("agents:\n  - id: b\n    base_url: http://h/b/\n    workspace_path: /agents/b\n"), PolicyDeny)
	if err != nil {
		t.Fatal(err)
	}
	oneAgents, twoAgents := one.Agents(), two.Agents()
	r := NewRegistry(one)
	const minReads = 20000
	stop := make(chan struct{}) // closed when the guard fires
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			var sawOne, sawTwo bool
			for n := 0; n < minReads || !sawOne || !sawTwo; n++ {
				// AgentFor answers from one snapshot or the other: agent-0
				// under the default policy, or access denied.
				switch a, assigned, err := r.AgentFor("@x:y.org"); {
				case err == nil && a.ID == "agent-0" && !assigned:
					sawOne = true
				case errors.Is(err, actors.ErrAccessDenied) && a == (actors.AgentRef{}) && !assigned:
					sawTwo = true
				default:
					t.Errorf("reader %d: AgentFor = %+v, %v, %v: a mix of snapshots", i, a, assigned, err)
					return
				}
				if got := r.Agents(); !reflect.DeepEqual(got, oneAgents) && !reflect.DeepEqual(got, twoAgents) {
					t.Errorf("reader %d: Agents() = %+v: a mix of snapshots", i, got)
					return
				}
				if s := r.Snapshot(); s != one && s != two {
					t.Errorf("reader %d: Snapshot() = %p is neither snapshot", i, s)
					return
				}
				select {
				case <-stop:
					t.Errorf("reader %d saw only one snapshot (one: %v, two: %v) in %s of swaps", i, sawOne, sawTwo, hangGuard)
					return
				default:
				}
			}
		})
	}
	readersDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(readersDone)
	}()
	// Swap until every reader has seen both snapshots, or the guard fires.
	guard := time.NewTimer(hangGuard)
	defer guard.Stop()
	for i := 0; ; i++ {
		select {
		case <-readersDone:
			return
		case <-guard.C:
			close(stop)
			wg.Wait() // every reader returns at its next check of stop
			return
		default:
		}
		if i%2 == 0 {
			r.Replace(two)
		} else {
			r.Replace(one)
		}
	}
}
