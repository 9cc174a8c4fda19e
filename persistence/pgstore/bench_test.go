package pgstore_test

import (
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/persistence/storetest"
)

// BenchmarkStore: the same work as Badger's BenchmarkStore, on a
// PostgreSQL of the test's own on loopback (fsync on, as Debian ships it).
func BenchmarkStore(b *testing.B) {
	storetest.RunStoreBenchmarks(b, func(b *testing.B) actors.Store {
		s, _ := newTestStore(b)
		return s
	})
}
