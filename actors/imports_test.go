package actors_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestActorsImportNoMatrixOrStorage enforces the architecture's one hard
// line: actors/ reaches Matrix, agents and storage only through the ports it
// declares, so neither it nor anything it imports pulls in mautrix, Badger,
// or our own implementations of the ports.
func TestActorsImportNoMatrixOrStorage(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "goolm", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	// One module path per line (a raw string, so that a grep for imports of
	// these paths does not mistake this list for one).
	forbidden := strings.Fields(`
		maunium.net/go/mautrix
		github.com/dgraph-io/badger
		github.com/coder/websocket
		github.com/surfaces-bot/surfaces/matrix
		github.com/surfaces-bot/surfaces/persistence
		github.com/surfaces-bot/surfaces/agents
		github.com/surfaces-bot/surfaces/config
	`)
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list returned too little to judge: %q", out)
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("actors depends on %s", dep)
			}
		}
	}
}

// TestImportsOnlyDown keeps the tree's packages layered as doc.go draws
// them: this package at the bottom, then internal/kit, then room and
// reconcile, then grain, then user, then root. An import that runs sideways or up
// would tie a kind of actor to one that depends on it.
func TestImportsOnlyDown(t *testing.T) {
	const base = "github.com/surfaces-bot/surfaces/actors"
	rank := map[string]int{
		base:                   0,
		base + "/wire":         0,
		base + "/internal/kit": 1,
		base + "/room":         2,
		base + "/reconcile":    2,
		base + "/grain":        3,
		base + "/user":         4,
		base + "/root":         5,
	}
	out, err := exec.Command("go", "list", "-tags", "goolm", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		from, ok := rank[fields[0]]
		if !ok {
			continue
		}
		seen++
		for _, imp := range fields[1:] {
			if to, ok := rank[imp]; ok && to >= from {
				t.Errorf("%s imports %s, which is not below it", fields[0], imp)
			}
		}
	}
	if seen != len(rank) {
		t.Fatalf("go list showed %d of the tree's %d packages: is the layout still as doc.go says?", seen, len(rank))
	}
}
