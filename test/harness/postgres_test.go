package harness

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/test/needs"
)

// A test's PostgreSQL: a cluster of its own that takes a database and a
// query on the DSN it hands out, and leaves neither a process nor a
// directory behind.
func TestPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL; skipped with -short")
	}
	binDir, err := PostgresBinDir()
	if err != nil {
		needs.Missing(t, err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := StartPostgres(ctx, binDir)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = p.Close()
		}
	})
	dsn, err := p.CreateDatabase(ctx, "probe")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dsn, "postgres://surfaces@127.0.0.1:") || !strings.HasSuffix(dsn, "/probe?sslmode=disable") {
		t.Fatalf("DSN %q", dsn)
	}
	out, err := p.command(ctx, "psql", "-X", "-A", "-t", "-c", "SELECT current_database()", dsn).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "probe" {
		t.Fatalf("psql on %s: %v %q", dsn, err, out)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	select {
	case <-p.proc.Done():
	default:
		t.Fatal("the server still runs after Close")
	}
	if _, err := os.Stat(p.dir); !os.IsNotExist(err) {
		t.Fatalf("the cluster's directory is still there: %v", err)
	}
}
