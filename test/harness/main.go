package harness

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// shared is the PostgreSQL server that the homeservers of one test binary
// share under HomeserverDBEnv, when its package runs its tests through
// Main: started by the first stack that needs it, stopped by Main. Without
// Main each stack starts and stops a server of its own.
var shared struct {
	enabled atomic.Bool
	once    sync.Once
	pg      *Postgres
	err     error
	dbs     atomic.Int64
}

// Main runs a package's tests (call it from TestMain: os.Exit(Main(m)))
// and then stops what they shared: under HomeserverDBEnv, the one
// PostgreSQL server whose databases every stack's homeserver used (a
// server a test saves starting a server of its own, about two seconds).
func Main(m *testing.M) int {
	shared.enabled.Store(true)
	code := m.Run()
	if shared.pg != nil {
		if err := shared.pg.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "failed to stop the shared PostgreSQL server:", err)
			code = max(code, 1)
		}
	}
	return code
}

// homeserverDatabase makes a database for a stack's homeserver on the
// shared server, starting it the first time.
func homeserverDatabase(ctx context.Context, binDir string) (string, error) {
	shared.once.Do(func() {
		// Not ctx: the server outlives the stack that started it.
		startCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.pg, shared.err = StartPostgres(startCtx, binDir)
	})
	if shared.err != nil {
		return "", shared.err
	}
	return shared.pg.CreateDatabase(ctx, fmt.Sprintf("dendrite_%d", shared.dbs.Add(1)))
}
