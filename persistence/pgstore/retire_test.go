package pgstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/surfaces-bot/surfaces/persistence/pgstore"
)

// TestRetire: a running member is refused and keeps its row; a member
// whose process ended without leaving is retired, its row gone, once the
// caller's clean-up succeeded; a failed clean-up keeps the row for a
// retry; a retired member's id can join again.
func TestRetire(t *testing.T) {
	dsn := newDatabase(t)
	s := openTestStore(t, dsn, pgstore.Options{Shared: true, LockWait: -1})
	join(t, s, "a")
	b, err := openTestStore(t, dsn, pgstore.Options{Shared: true}).Join(testContext(t), "b", pgstore.MemberInfo{Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Leave(testContext(t)) })

	ran := 0
	count := func(context.Context) error { ran++; return nil }
	if _, err := s.Retire(testContext(t), "a", count); !errors.Is(err, pgstore.ErrMemberTaken) {
		t.Fatalf("retiring a running member: %v, want ErrMemberTaken", err)
	}
	if ran != 0 {
		t.Fatal("the clean-up ran for a running member")
	}

	killSession(t, dsn, "b") // b's process died without leaving
	<-b.Lost()
	want := []string{"a live=true ingress=false", "b live=false ingress=false"}
	if got := statuses(t, s); !slices.Equal(got, want) {
		t.Fatalf("members %q, want %q", got, want)
	}
	failed := errors.New("the homeserver is down")
	if _, err := s.Retire(testContext(t), "b", func(context.Context) error { return failed }); !errors.Is(err, failed) {
		t.Fatalf("retiring with a failing clean-up: %v, want its error", err)
	}
	if got := statuses(t, s); !slices.Equal(got, want) {
		t.Fatalf("after a failed retire: members %q, want %q", got, want)
	}
	if listed, err := s.Retire(testContext(t), "b", count); err != nil || !listed {
		t.Fatalf("retiring b: listed %t, %v; want listed, no error", listed, err)
	}
	if ran != 1 {
		t.Fatalf("the clean-up ran %d times, want 1", ran)
	}
	if got, want := statuses(t, s), []string{"a live=true ingress=false"}; !slices.Equal(got, want) {
		t.Fatalf("after retiring b: members %q, want %q", got, want)
	}
	// The lock was given back: b may join again (a new box under the old
	// name). A member that left, or never joined, is not listed; its
	// clean-up runs all the same (a member that left has its device).
	join(t, s, "b")
	if listed, err := s.Retire(testContext(t), "c", count); err != nil || listed {
		t.Fatalf("retiring c, never listed: listed %t, %v; want not listed, no error", listed, err)
	}
	if ran != 2 {
		t.Fatalf("the clean-up ran %d times, want 2", ran)
	}
}
