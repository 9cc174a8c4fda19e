//go:build !unix

package harness

import (
	"context"
	"os"
	"os/exec"
)

// lockFile is a no-op where flock does not exist: concurrent builds then both
// run, and the atomic rename still keeps the cache consistent.
func lockFile(_ context.Context, _ string) (func(), error) {
	return func() {}, nil
}

// startInOwnGroup does nothing where process groups are not available.
func startInOwnGroup(_ *exec.Cmd) {}

// terminate falls back to killing: there is no SIGTERM on these systems.
func terminate(p *os.Process) error { return p.Kill() }

// kill ends the child.
func kill(p *os.Process) error { return p.Kill() }
