package persistence

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
)

func TestRoomRoundTrip(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	tests := []struct {
		name string
		room actors.RoomRecord
	}{
		{name: "minimal", room: actors.RoomRecord{RoomID: "!min:x", OwnerID: "@a:x"}},
		{name: "full", room: actors.RoomRecord{
			RoomID: "!room:example.org", OwnerID: "@alice:example.org", SpaceID: "!space:example.org",
			ChatIndex: 3, Name: "Chat 3", PlatformChatID: "42", AgentID: "agent-0", Archived: true,
			Staged: []actors.Attachment{
				{Path: "incoming/20260428-110000-a.pdf", Name: "a.pdf", MIME: "application/pdf", Size: 10, EventID: "$e1", StagedAt: at(1)},
				{Path: "incoming/20260428-110001-b.png", Name: "b.png", Size: 20, StagedAt: at(2)},
			},
			LastTurnAt:   at(3),
			TokensUsed:   1234,
			TurnInFlight: &actors.InFlightTurn{EventID: "$turn", StartedAt: at(4)},
			CreatedAt:    at(5),
			UpdatedAt:    at(6),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.PutRoom(ctx, tc.room); err != nil {
				t.Fatalf("PutRoom: %v", err)
			}
			got, err := s.GetRoom(ctx, tc.room.RoomID)
			if err != nil {
				t.Fatalf("GetRoom: %v", err)
			}
			if !reflect.DeepEqual(got, tc.room) {
				t.Fatalf("GetRoom =\n%+v\nwant\n%+v", got, tc.room)
			}
		})
	}
}

func TestRoomErrors(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	_, err := s.GetRoom(ctx, "!missing:x")
	if !errors.Is(err, actors.ErrNotFound) || !strings.Contains(err.Error(), "room/!missing:x") {
		t.Fatalf("GetRoom missing = %v, want ErrNotFound naming the key", err)
	}
	for name, bad := range map[string]actors.RoomRecord{
		"no room id":     {OwnerID: "@a:x"},
		"no owner":       {RoomID: "!r:x"},
		"negative index": {RoomID: "!r:x", OwnerID: "@a:x", ChatIndex: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if err := s.PutRoom(ctx, bad); !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("PutRoom = %v, want ErrInvalidRecord", err)
			}
		})
	}
}

// roomIDs lists the ids of owner's rooms in ListRooms order.
func roomIDs(t *testing.T, s *Store, owner string) []string {
	t.Helper()
	rooms, err := s.ListRooms(context.Background(), owner)
	if err != nil {
		t.Fatalf("ListRooms(%q): %v", owner, err)
	}
	ids := []string{}
	for _, r := range rooms {
		if r.OwnerID != owner {
			t.Fatalf("ListRooms(%q) returned room %q of %q", owner, r.RoomID, r.OwnerID)
		}
		ids = append(ids, r.RoomID)
	}
	return ids
}

func TestListRoomsOrderAndIsolation(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	rooms := []actors.RoomRecord{
		{RoomID: "!r10:x", OwnerID: "@a:x", ChatIndex: 10},
		{RoomID: "!r2:x", OwnerID: "@a:x", ChatIndex: 2},
		{RoomID: "!r1:x", OwnerID: "@a:x", ChatIndex: 1, Archived: true},
		{RoomID: "!tie-b:x", OwnerID: "@a:x", ChatIndex: 5},
		{RoomID: "!tie-a:x", OwnerID: "@a:x", ChatIndex: 5},
		// Owners whose ids extend "@a:x" must not leak into its scan.
		{RoomID: "!other1:x", OwnerID: "@a:xy", ChatIndex: 1},
		{RoomID: "!other2:x", OwnerID: "@a:x/evil", ChatIndex: 1},
		{RoomID: "!b1:x", OwnerID: "@b:x", ChatIndex: 1},
	}
	for _, r := range rooms {
		if err := s.PutRoom(ctx, r); err != nil {
			t.Fatalf("PutRoom(%s): %v", r.RoomID, err)
		}
	}
	tests := []struct {
		owner string
		want  []string
	}{
		{owner: "@a:x", want: []string{"!r1:x", "!r2:x", "!tie-a:x", "!tie-b:x", "!r10:x"}},
		{owner: "@a:xy", want: []string{"!other1:x"}},
		{owner: "@a:x/evil", want: []string{"!other2:x"}},
		{owner: "@b:x", want: []string{"!b1:x"}},
		{owner: "@nobody:x", want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.owner, func(t *testing.T) {
			if got := roomIDs(t, s, tc.owner); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ListRooms(%q) = %v, want %v", tc.owner, got, tc.want)
			}
		})
	}
}

func TestPutRoomMovesOwnerIndex(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	put := func(r actors.RoomRecord) {
		t.Helper()
		if err := s.PutRoom(ctx, r); err != nil {
			t.Fatalf("PutRoom: %v", err)
		}
	}
	put(actors.RoomRecord{RoomID: "!a:x", OwnerID: "@u:x", ChatIndex: 1})
	put(actors.RoomRecord{RoomID: "!b:x", OwnerID: "@u:x", ChatIndex: 2})
	// Re-indexing !a after !b reorders, without leaving the old entry.
	put(actors.RoomRecord{RoomID: "!a:x", OwnerID: "@u:x", ChatIndex: 3, Name: "renamed"})
	if got, want := roomIDs(t, s, "@u:x"), []string{"!b:x", "!a:x"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after reindex ListRooms = %v, want %v", got, want)
	}
	// Changing the owner moves the room to the other owner's list.
	put(actors.RoomRecord{RoomID: "!a:x", OwnerID: "@v:x", ChatIndex: 3})
	if got, want := roomIDs(t, s, "@u:x"), []string{"!b:x"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("old owner ListRooms = %v, want %v", got, want)
	}
	if got, want := roomIDs(t, s, "@v:x"), []string{"!a:x"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("new owner ListRooms = %v, want %v", got, want)
	}
}
