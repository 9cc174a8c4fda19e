package persistence

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// newTestStore opens a Store in a fresh temporary directory and closes it
// when the test ends. It returns the directory for reopen tests.
func newTestStore(t testing.TB) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	return openTestStore(t, dir), dir
}

// openTestStore opens dir and registers its Close with t.Cleanup (a second
// Close by the test itself is a no-op).
func openTestStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(testContext(t), dir, Options{})
	if err != nil {
		t.Fatalf("Open(%q): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// testContext carries a logger that writes to the test log, so that Badger's
// lines show up under the test that caused them.
func testContext(t testing.TB) context.Context {
	l := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	return l.WithContext(context.Background())
}

// at is a fixed UTC instant, so records round-trip through JSON unchanged.
func at(sec int) time.Time {
	return time.Date(2026, 4, 28, 11, 0, sec, 0, time.UTC)
}
