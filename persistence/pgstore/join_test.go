package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/surfaces-bot/surfaces/persistence/pgstore"
)

// join makes s's process the member id, left by t.Cleanup.
func join(t *testing.T, s *pgstore.Store, id string) *pgstore.Member {
	t.Helper()
	m, err := s.Join(testContext(t), id, pgstore.MemberInfo{Host: "test", PID: os.Getpid()})
	if err != nil {
		t.Fatalf("join %s: %v", id, err)
	}
	t.Cleanup(func() {
		if err := m.Leave(testContext(t)); err != nil {
			t.Error(err)
		}
	})
	return m
}

// statuses is Members as "id live ingress" lines.
func statuses(t *testing.T, s *pgstore.Store) []string {
	t.Helper()
	ms, err := s.Members(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%s live=%t ingress=%t", m.ID, m.Live, m.Ingress))
	}
	return out
}

// killSession ends the database session holding member id's lock, as the
// death of its process would.
func killSession(t *testing.T, dsn, id string) {
	t.Helper()
	execSQL(t, dsn, `SELECT pg_terminate_backend(pid) FROM (`+pgstore.MemberSessionsQuery()+`) s`, id)
}

// TestJoinRefusesATakenID: two running processes cannot be the same
// member; once the first leaves, its id is free again (issue 24's "a member
// started with another member's id").
func TestJoinRefusesATakenID(t *testing.T) {
	dsn := newDatabase(t)
	s1 := openTestStore(t, dsn, pgstore.Options{Shared: true})
	s2 := openTestStore(t, dsn, pgstore.Options{Shared: true, LockWait: -1})
	a := join(t, s1, "a")
	if m, err := s2.Join(testContext(t), "a", pgstore.MemberInfo{}); !errors.Is(err, pgstore.ErrMemberTaken) {
		if m != nil {
			m.Leave(testContext(t))
		}
		t.Fatalf("a second member a: %v, want ErrMemberTaken", err)
	}
	join(t, s2, "b")
	if err := a.Leave(testContext(t)); err != nil {
		t.Fatal(err)
	}
	join(t, s2, "a")
	if got, want := statuses(t, s1), []string{"a live=true ingress=false", "b live=true ingress=false"}; !slices.Equal(got, want) {
		t.Fatalf("members %q, want %q", got, want)
	}
}

// TestMembersShareTheDatabaseToolsDoNot: a tool that opens the database
// exclusively (reset) is refused while a member runs, and a member cannot
// join while such a tool holds it.
func TestMembersShareTheDatabaseToolsDoNot(t *testing.T) {
	dsn := newDatabase(t)
	s := openTestStore(t, dsn, pgstore.Options{Shared: true, LockWait: -1})
	a := join(t, s, "a")
	if tool, err := pgstore.Open(testContext(t), dsn, pgstore.Options{LockWait: -1}); !errors.Is(err, pgstore.ErrLocked) {
		if tool != nil {
			tool.Close()
		}
		t.Fatalf("an exclusive open beside a member: %v, want ErrLocked", err)
	}
	if err := a.Leave(testContext(t)); err != nil {
		t.Fatal(err)
	}
	tool := openTestStore(t, dsn, pgstore.Options{})
	if m, err := s.Join(testContext(t), "b", pgstore.MemberInfo{}); !errors.Is(err, pgstore.ErrLocked) {
		if m != nil {
			m.Leave(testContext(t))
		}
		t.Fatalf("joining while a tool holds the database: %v, want ErrLocked", err)
	}
	tool.Close()
	join(t, s, "b")
}

// TestIngressPassesOnWhenItsHolderDies: one member at a time holds the
// ingress; when its session ends without leaving (its process killed),
// it learns it lost it, a waiting member takes it, and the members list
// shows who holds it.
func TestIngressPassesOnWhenItsHolderDies(t *testing.T) {
	dsn := newDatabase(t)
	ctx := testContext(t)
	a := join(t, openTestStore(t, dsn, pgstore.Options{Shared: true}), "a")
	sb := openTestStore(t, dsn, pgstore.Options{Shared: true})
	b := join(t, sb, "b")
	if err := a.TakeIngress(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := b.TryIngress(ctx); err != nil || got {
		t.Fatalf("b took the ingress while a held it (%t, %v)", got, err)
	}
	if got, want := statuses(t, sb), []string{"a live=true ingress=true", "b live=true ingress=false"}; !slices.Equal(got, want) {
		t.Fatalf("members %q, want %q", got, want)
	}

	killSession(t, dsn, "a")
	if err := b.TakeIngress(ctx); err != nil {
		t.Fatalf("b did not take the ingress after a died: %v", err)
	}
	select {
	case <-a.Lost():
	case <-ctx.Done():
		t.Fatal("a was not told it lost its session")
	}
	if err := a.TakeIngress(ctx); !errors.Is(err, pgstore.ErrMemberLost) {
		t.Fatalf("a lost member taking the ingress: %v, want ErrMemberLost", err)
	}
	if got, want := statuses(t, sb), []string{"a live=false ingress=false", "b live=true ingress=true"}; !slices.Equal(got, want) {
		t.Fatalf("members %q, want %q", got, want)
	}
}

// memberLocks counts the sessions holding member id's lock now.
func memberLocks(t *testing.T, dsn, id string) []string {
	t.Helper()
	var out []string
	queryStrings(t, dsn, `SELECT pid::text FROM (`+pgstore.MemberSessionsQuery()+`) s`, &out, id)
	return out
}

// A member id is free again the moment Leave, or a refused Join, returns,
// and the database the moment a tool's Close returns: closing a connection
// ends its server session only a moment later, and a process restarted at
// once under the same id was refused as a duplicate of itself, a member
// joining just after a tool closed as if the tool still ran (two cold runs'
// TestMembersShareTheDatabaseToolsDoNot).
func TestMemberIDIsFreeWhenLeaveOrARefusedJoinReturns(t *testing.T) {
	dsn := newDatabase(t)
	s := openTestStore(t, dsn, pgstore.Options{Shared: true, LockWait: -1})
	for i := range 20 {
		m, err := s.Join(testContext(t), "a", pgstore.MemberInfo{})
		if err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
		if err := m.Leave(testContext(t)); err != nil {
			t.Fatal(err)
		}
		if held := memberLocks(t, dsn, "a"); len(held) != 0 {
			t.Fatalf("after Leave %d returned, sessions %v still hold a's lock", i, held)
		}
	}
	tool := openTestStore(t, dsn, pgstore.Options{})
	for i := range 20 {
		if m, err := s.Join(testContext(t), "b", pgstore.MemberInfo{}); !errors.Is(err, pgstore.ErrLocked) {
			if m != nil {
				m.Leave(testContext(t))
			}
			t.Fatalf("joining while a tool holds the database: %v, want ErrLocked", err)
		}
		if held := memberLocks(t, dsn, "b"); len(held) != 0 {
			t.Fatalf("after refused join %d returned, sessions %v still hold b's lock", i, held)
		}
	}
	tool.Close()
	// The checks use a session opened beforehand, so that they come
	// one round trip after Close returns, not a connection's set-up later.
	watch, err := pgx.Connect(testContext(t), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(context.Background())
	for i := range 20 {
		tool, err := pgstore.Open(testContext(t), dsn, pgstore.Options{})
		if err != nil {
			t.Fatalf("tool %d: %v", i, err)
		}
		tool.Close()
		if held := exclusiveLocks(t, watch); len(held) != 0 {
			t.Fatalf("after tool %d closed, sessions %v still hold the database exclusively", i, held)
		}
	}
}

// exclusiveLocks lists the sessions holding the database exclusively now.
func exclusiveLocks(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(testContext(t), `SELECT pid::text FROM (`+pgstore.ExclusiveUseSessionsQuery()+`) s`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLocksOfADeadProcessAreWaitedFor: a process killed with SIGKILL holds
// its locks until the server ends its session, a moment after; a bot
// restarted at once (a cold run's TestCrashInjectionOnPostgres refused to
// start: "the PostgreSQL database is in use") or a member restarted under
// its id waits for that, within Options.LockWait, instead of refusing.
func TestLocksOfADeadProcessAreWaitedFor(t *testing.T) {
	dsn := newDatabase(t)
	// endLater ends the sessions query selects a moment from now, as the
	// server does once it sees their process died.
	endLater := func(query string, args ...any) {
		go func() {
			time.Sleep(300 * time.Millisecond)
			execSQL(t, dsn, `SELECT pg_terminate_backend(pid) FROM (`+query+`) s`, args...)
		}()
	}
	t.Run("the exclusive open of a bot", func(t *testing.T) {
		dead, err := pgstore.Open(testContext(t), dsn, pgstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer dead.Close() // fails: its session is gone
		endLater(pgstore.ExclusiveUseSessionsQuery())
		restarted := openTestStore(t, dsn, pgstore.Options{})
		_ = restarted
	})
	t.Run("a member under its own id", func(t *testing.T) {
		s := openTestStore(t, dsn, pgstore.Options{Shared: true})
		dead, err := s.Join(testContext(t), "a", pgstore.MemberInfo{})
		if err != nil {
			t.Fatal(err)
		}
		defer dead.Leave(testContext(t)) // its session is gone already
		endLater(pgstore.MemberSessionsQuery(), "a")
		join(t, s, "a")
	})
}

// TestMembersReportTheirGrains: a member that hosts room grains says how
// many (ReportGrains) and Members shows it; one that never said shows -1.
func TestMembersReportTheirGrains(t *testing.T) {
	dsn := newDatabase(t)
	s := openTestStore(t, dsn, pgstore.Options{Shared: true, LockWait: -1})
	a, _ := join(t, s, "a"), join(t, s, "b")
	for _, n := range []int{3, 7} {
		if err := a.ReportGrains(testContext(t), n); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := s.Members(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, m := range ms {
		got[m.ID] = m.Grains
	}
	if got["a"] != 7 || got["b"] != -1 {
		t.Fatalf("grains by member: %v, want a 7 and b -1", got)
	}
}
