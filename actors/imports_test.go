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
