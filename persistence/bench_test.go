package persistence

import (
	"context"
	"strconv"
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
)

// Each iteration is one committed, fsynced transaction (SyncWrites), so the
// numbers are dominated by the disk's fsync latency.

func BenchmarkPutRoom(b *testing.B) {
	s, _ := newTestStore(b)
	ctx := context.Background()
	r := actors.RoomRecord{RoomID: "!bench:x", OwnerID: "@u:x", Name: "Chat 1", PlatformChatID: "1", AgentID: "agent-0"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.ChatIndex = i % 100
		if err := s.PutRoom(ctx, r); err != nil {
			b.Fatalf("PutRoom: %v", err)
		}
	}
}

func BenchmarkGetRoom(b *testing.B) {
	s, _ := newTestStore(b)
	ctx := context.Background()
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
}

func BenchmarkNextPlatformChatID(b *testing.B) {
	s, _ := newTestStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.NextPlatformChatID(ctx); err != nil {
			b.Fatalf("NextPlatformChatID: %v", err)
		}
	}
}
