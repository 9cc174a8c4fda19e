// Package needs lets a test ask for a program that the README's go-only
// test command does not provide: a server or tool from Debian's packages
// (Prometheus, PostgreSQL). Missing, the test is skipped with the reason,
// unless RequireEnv is set, as .ci/run sets it: then it fails, so that CI
// cannot pass by skipping what it was meant to run.
//
// It is safe for concurrent use by parallel tests.
package needs

import (
	"os"
	"os/exec"
	"testing"
)

// RequireEnv is the variable that turns a missing program into a failure.
const RequireEnv = "SURFACES_REQUIRE_SERVERS"

// Command returns the path of each named program on PATH. If one is
// missing it skips t, naming pkg, the Debian package that brings it, or
// fails t when RequireEnv is set.
func Command(t testing.TB, pkg string, names ...string) []string {
	t.Helper()
	paths := make([]string, 0, len(names))
	for _, name := range names {
		path, err := exec.LookPath(name)
		if err != nil {
			Missing(t, name+" is not on PATH (Debian's package "+pkg+"; .ci/run installs it)")
			return nil
		}
		paths = append(paths, path)
	}
	return paths
}

// Missing skips t saying why, or fails it when RequireEnv is set.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s, and %s is set: this test must run", why, RequireEnv)
		return
	}
	t.Skipf("skipped: %s", why)
}
