package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/persistence/pgstore"
	"github.com/surfaces-bot/surfaces/test/harness"
	"github.com/surfaces-bot/surfaces/test/needs"
)

// One PostgreSQL server serves the package's tests (about two seconds to
// start); each store gets a database of its own.
var (
	serverOnce sync.Once
	server     *harness.Postgres
	serverErr  error
	skipWhy    string
	databases  atomic.Int64
)

func TestMain(m *testing.M) {
	if dsn := os.Getenv(takerEnv); dsn != "" {
		runTaker(dsn) // a member of TestIDsAcrossKilledMembers
	}
	code := m.Run()
	if server != nil {
		if err := server.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "failed to stop PostgreSQL:", err)
		}
	}
	os.Exit(code)
}

// newDatabase creates an empty database on the shared server and returns
// its DSN; the test is skipped (or failed, under needs.RequireEnv) when
// PostgreSQL is not installed.
func newDatabase(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() {
		binDir, err := harness.PostgresBinDir()
		if err != nil {
			skipWhy = err.Error()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// Durable, as a deployment's: the store's writes are measured
		// against Badger's fsynced ones (BenchmarkStore).
		server, serverErr = harness.StartPostgresWith(ctx, binDir, harness.PostgresOptions{Durable: true})
	})
	if skipWhy != "" {
		needs.Missing(t, skipWhy)
	}
	if serverErr != nil {
		t.Fatalf("failed to start PostgreSQL: %v", serverErr)
	}
	name := fmt.Sprintf("store_%d", databases.Add(1))
	admin, err := pgx.Connect(t.Context(), server.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return server.DSN(name)
}

// newTestStore opens a store on a new database, closed by t.Cleanup.
func newTestStore(t testing.TB) (*pgstore.Store, string) {
	t.Helper()
	dsn := newDatabase(t)
	return openTestStore(t, dsn, pgstore.Options{}), dsn
}

// openTestStore opens dsn; a second Close by the test itself is a no-op.
func openTestStore(t testing.TB, dsn string, opts pgstore.Options) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(testContext(t), dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// testContext carries a logger that writes through t.
func testContext(t testing.TB) context.Context {
	log := zerolog.New(zerolog.NewTestWriter(t))
	return log.WithContext(context.Background())
}

// execSQL runs sql on dsn directly, as an operator (or a test) would.
func execSQL(t testing.TB, dsn, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// queryStrings collects the one text column sql selects.
func queryStrings(t testing.TB, dsn, sql string, out *[]string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	*out = got
}
