package storetest

import (
	"strconv"
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
)

// RunStoreBenchmarks measures the writes and reads on a turn's path
// against a store made by open, so that the backends are compared on the
// same work: each write is one durable commit (Badger's fsync,
// PostgreSQL's WAL flush), so the numbers are mostly the disk's.
func RunStoreBenchmarks(b *testing.B, open func(b *testing.B) actors.Store) {
	b.Run("PutRoom", func(b *testing.B) {
		s, ctx := open(b), b.Context()
		r := actors.RoomRecord{RoomID: "!bench:x", OwnerID: "@u:x", Name: "Chat 1", PlatformChatID: "1", AgentID: "agent-0"}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r.ChatIndex = i % 100
			if err := s.PutRoom(ctx, r); err != nil {
				b.Fatalf("PutRoom: %v", err)
			}
		}
	})
	b.Run("GetRoom", func(b *testing.B) {
		s, ctx := open(b), b.Context()
		for i := range 100 {
			r := actors.RoomRecord{RoomID: "!r" + strconv.Itoa(i) + ":x", OwnerID: "@u:x", ChatIndex: i}
			if err := s.PutRoom(ctx, r); err != nil {
				b.Fatalf("PutRoom: %v", err)
			}
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.GetRoom(ctx, "!r"+strconv.Itoa(i%100)+":x"); err != nil {
				b.Fatalf("GetRoom: %v", err)
			}
		}
	})
	b.Run("NextPlatformChatID", func(b *testing.B) {
		s, ctx := open(b), b.Context()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.NextPlatformChatID(ctx); err != nil {
				b.Fatalf("NextPlatformChatID: %v", err)
			}
		}
	})
}
