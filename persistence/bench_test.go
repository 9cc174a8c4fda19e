package persistence

import (
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/persistence/storetest"
)

// BenchmarkStore: each write is one committed, fsynced transaction
// (SyncWrites), so the numbers are dominated by the disk's fsync latency.
func BenchmarkStore(b *testing.B) {
	storetest.RunStoreBenchmarks(b, func(b *testing.B) actors.Store {
		s, _ := newTestStore(b)
		return s
	})
}
