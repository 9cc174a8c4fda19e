package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/surfaces-bot/surfaces/persistence/pgstore"
	"github.com/surfaces-bot/surfaces/test/harness"
	"github.com/surfaces-bot/surfaces/test/needs"
)

// TestCrashInjectionOnPostgres is the crash test with the bot's records in
// PostgreSQL (persistence.backend: postgres, issue 24): every kill point,
// every invariant, and at the end the records are found in the database,
// not in a Badger directory.
func TestCrashInjectionOnPostgres(t *testing.T) {
	pg := startPostgres(t)
	dsn, env := postgresStateOn(t, pg)
	// Dendrite runs on the same server: on SQLite, the kills' restarts
	// made it panic on a write refused with "database is locked (517)"
	// (its sync API's roomserver consumer, seen in a cold run of the
	// README's command), which fails the test whatever the bot does. This
	// test needs PostgreSQL anyway.
	w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"}, BotEnv: env, HomeserverDatabase: postgresDatabase(t, pg, "dendrite")}, "alice")
	crashInjection(t, w)

	conn, err := pgx.Connect(w.ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var users, rooms, lastID int
	if err := conn.QueryRow(w.ctx, `SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM rooms),
		(SELECT last_value FROM platform_chat_id)`).Scan(&users, &rooms, &lastID); err != nil {
		t.Fatal(err)
	}
	// alice, her Space's chats (Chat 1 and the !new ones), and at least
	// one id per chat and per !clear.
	if users != 1 || rooms < 2 || lastID < rooms {
		t.Errorf("PostgreSQL holds %d users, %d rooms, platform_chat_id at %d: the bot did not keep its records there", users, rooms, lastID)
	}
}

// wipePostgres deletes every record and key of the bot's database, as
// `surfaces reset --mode local-only` does.
func wipePostgres(t *testing.T, dsn string) {
	t.Helper()
	s, err := pgstore.Open(t.Context(), dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Wipe(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// postgresState starts a PostgreSQL server of the test's own and returns
// a database's DSN and the bot's environment that keeps its records there.
// Without PostgreSQL the test is skipped, or failed under needs.RequireEnv.
func postgresState(t *testing.T) (dsn string, env []string) {
	t.Helper()
	return postgresStateOn(t, startPostgres(t))
}

// postgresStateOn is postgresState on a server the test started.
func postgresStateOn(t *testing.T, p *harness.Postgres) (dsn string, env []string) {
	t.Helper()
	dsn = postgresDatabase(t, p, "surfaces")
	return dsn, []string{"SURFACES_PERSISTENCE_BACKEND=postgres", "SURFACES_PERSISTENCE_POSTGRES_DSN=" + dsn}
}

// startPostgres starts a PostgreSQL server for the test, stopped by
// t.Cleanup. Without PostgreSQL the test is skipped, or failed under
// needs.RequireEnv.
func startPostgres(t *testing.T) *harness.Postgres {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs Dendrite and the bot; skipped with -short")
	}
	binDir, err := harness.PostgresBinDir()
	if err != nil {
		needs.Missing(t, err.Error())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	p, err := harness.StartPostgres(ctx, binDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// postgresDatabase creates the database name on p and returns its DSN.
func postgresDatabase(t *testing.T, p *harness.Postgres, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	dsn, err := p.CreateDatabase(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}
