package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/surfaces-bot/surfaces/persistence/pgstore"
	"github.com/surfaces-bot/surfaces/test/harness"
	"github.com/surfaces-bot/surfaces/test/needs"
)

// TestRunStopsOnABadPostgres: with persistence.backend postgres, each way
// the database can be wrong stops the start before anything else, with one
// line saying what to do, and never the DSN's password.
func TestRunStopsOnABadPostgres(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	type tc struct {
		name  string
		dsn   string
		code  int
		words []string
	}
	tests := []tc{{
		name: "a server that does not answer", code: exitUsage,
		dsn:   "postgres://surfaces:sekrit@" + closed + "/surfaces?sslmode=disable&connect_timeout=5",
		words: []string{"persistence.postgres_dsn", "cannot be reached", "check the host and port"},
	}}
	if binDir, err := harness.PostgresBinDir(); err != nil {
		needs.Missing(t, err.Error())
	} else {
		newer, inUse := postgresDatabases(t, binDir)
		tests = append(tests,
			tc{name: "a schema newer than the binary", dsn: newer, code: exitFailed,
				words: []string{"newer than this binary", "run the newer binary"}},
			tc{name: "a database another bot holds", dsn: inUse, code: exitFailed,
				words: []string{"in use by another process", "stop the bot first"}},
		)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(t, goodRegistry, "SURFACES_PERSISTENCE_BACKEND=postgres", "SURFACES_PERSISTENCE_POSTGRES_DSN="+tc.dsn)
			code, _, stderr := runCLI(t, env, "run")
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, stderr)
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 {
				t.Errorf("stderr has %d lines, want one: %s", lines, stderr)
			}
			for _, w := range tc.words {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q: %s", w, stderr)
				}
			}
			if strings.Contains(stderr, "sekrit") {
				t.Errorf("stderr shows the password: %s", stderr)
			}
		})
	}
}

// postgresDatabases starts a PostgreSQL of the test's own with two
// databases: one migrated by a binary newer than this one, one held by a
// running store until the test ends.
func postgresDatabases(t *testing.T, binDir string) (newer, inUse string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	p, err := harness.StartPostgres(ctx, binDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if newer, err = p.CreateDatabase(ctx, "newer"); err != nil {
		t.Fatal(err)
	}
	if inUse, err = p.CreateDatabase(ctx, "inuse"); err != nil {
		t.Fatal(err)
	}
	s, err := pgstore.Open(ctx, newer, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	conn, err := pgx.Connect(ctx, newer)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `UPDATE surfaces_schema SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	held, err := pgstore.Open(ctx, inUse, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() })
	return newer, inUse
}
