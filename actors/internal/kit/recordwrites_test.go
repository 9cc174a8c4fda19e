package kit

import (
	"slices"
	"testing"
)

// A write whose ticket is older than one already written is skipped, so a
// late task can never put an older snapshot over a newer one; tickets of
// one room keep counting across incarnations (they share the writer).
func TestRoomWritesKeepTheNewestSnapshot(t *testing.T) {
	w := NewRecordWrites()
	rw, first := w.Ticket("!r")
	_, second := w.Ticket("!r")
	_, other := w.Ticket("!other")
	if first != 1 || second != 2 || other != 1 {
		t.Fatalf("tickets %d, %d and %d, want 1, 2 (one room) and 1 (another)", first, second, other)
	}
	var stored []string
	put := func(s string) func() error { return func() error { stored = append(stored, s); return nil } }
	if ok, err := rw.Write(second, put("second")); !ok || err != nil {
		t.Fatalf("the newest write: written %v, err %v", ok, err)
	}
	if ok, _ := rw.Write(first, put("first")); ok {
		t.Fatal("an older snapshot was written over a newer one")
	}
	if !slices.Equal(stored, []string{"second"}) {
		t.Fatalf("stored %q", stored)
	}
}
