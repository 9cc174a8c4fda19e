package actortest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
)

// Subtests on listings: ListUsers, ListRooms and saved contexts (ListSavedContexts, replacement by name).

func (c contract) listUsers(t *testing.T) {
	t.Run("empty store", func(t *testing.T) {
		s := c.store(t)
		got, err := s.ListUsers(t.Context())
		if err != nil || len(got) != 0 {
			t.Fatalf("ListUsers on an empty store = (%v, %v), want no users and no error", storeUserIDs(got), err)
		}
	})
	t.Run("every user ordered by id", func(t *testing.T) {
		s, ctx := c.store(t), t.Context()
		// Written in an order that is neither sorted nor a rotation of the
		// sorted order, so that no iteration order of a map passes by luck.
		order := []string{"@d:x", "@a:x/y", "@f:x", "@a:x", "@e:x", "@b:x", "@a:xy", "@c:x"}
		want := map[string]actors.UserRecord{}
		for i, id := range order {
			u := actors.UserRecord{UserID: id, ChatCounter: i + 1, CreatedAt: contractAt(i)}
			mustPutUser(t, ctx, s, u)
			want[id] = u
		}
		// Overwriting one must not duplicate it, and the listing shows the
		// newer record.
		want["@c:x"] = contractUser("@c:x")
		mustPutUser(t, ctx, s, want["@c:x"])

		got, err := s.ListUsers(ctx)
		if err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
		wantIDs := slices.Sorted(maps.Keys(want))
		if ids := storeUserIDs(got); !slices.Equal(ids, wantIDs) {
			t.Fatalf("ListUsers ids = %q, want %q (every user once, ordered by user id)", ids, wantIDs)
		}
		for i, u := range got {
			checkSameRecord(t, fmt.Sprintf("ListUsers()[%d]", i), u, want[u.UserID])
		}
	})
}

func (c contract) listRooms(t *testing.T) {
	s, ctx := c.store(t), t.Context()
	room := func(id, owner string, index int, archived bool) actors.RoomRecord {
		r := contractRoom(id, owner)
		r.ChatIndex, r.Archived, r.Name = index, archived, "Chat "+strconv.Itoa(index)
		return r
	}
	// Written out of order (10 before 2 catches a text sort; the tie is
	// written in reverse id order), with owners whose ids extend "@a:x".
	puts := []actors.RoomRecord{
		room("!r10:x", "@a:x", 10, false),
		room("!r2:x", "@a:x", 2, false),
		room("!tie-b:x", "@a:x", 5, false),
		room("!other1:x", "@a:xy", 1, false),
		room("!r1:x", "@a:x", 1, true),
		room("!tie-a:x", "@a:x", 5, true),
		room("!other2:x", "@a:x/evil", 1, false),
		room("!b1:x", "@b:x", 1, false),
		room("!r0:x", "@a:x", 0, false),
		// Written again below with another owner and index.
		room("!moved:x", "@a:x", 3, false),
		room("!reindexed:x", "@b:x", 9, false),
	}
	for _, r := range puts {
		mustPutRoom(t, ctx, s, r)
	}
	moved := room("!moved:x", "@b:x", 4, false)
	reindexed := room("!reindexed:x", "@b:x", 0, false)
	mustPutRoom(t, ctx, s, moved)
	mustPutRoom(t, ctx, s, reindexed)

	byID := map[string]actors.RoomRecord{}
	for _, r := range append(puts, moved, reindexed) {
		byID[r.RoomID] = r
	}
	tests := []struct {
		owner string
		want  []string
	}{
		{owner: "@a:x", want: []string{"!r0:x", "!r1:x", "!r2:x", "!tie-a:x", "!tie-b:x", "!r10:x"}},
		{owner: "@a:xy", want: []string{"!other1:x"}},
		{owner: "@a:x/evil", want: []string{"!other2:x"}},
		{owner: "@b:x", want: []string{"!reindexed:x", "!b1:x", "!moved:x"}},
		{owner: "@nobody:x", want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.owner, func(t *testing.T) {
			got, err := s.ListRooms(ctx, tc.owner)
			if err != nil {
				t.Fatalf("ListRooms(%q): %v", tc.owner, err)
			}
			if ids := storeRoomIDs(got); !slices.Equal(ids, tc.want) {
				t.Fatalf("ListRooms(%q) = %q, want %q (only this owner's rooms, archived included, by ChatIndex then room id)", tc.owner, ids, tc.want)
			}
			for i, r := range got {
				checkSameRecord(t, fmt.Sprintf("ListRooms(%q)[%d]", tc.owner, i), r, byID[r.RoomID])
			}
		})
	}
}

func (c contract) savedContexts(t *testing.T) {
	t.Run("every field round-trips", func(t *testing.T) {
		want := contractSaved("@a:x", "report")
		requireEveryFieldSet(t, "SavedContext fixture", want)
		s, ctx := c.store(t), t.Context()
		mustPutSaved(t, ctx, s, want)
		got, err := s.ListSavedContexts(ctx, "@a:x")
		if err != nil || len(got) != 1 {
			t.Fatalf("ListSavedContexts = (%v, %v), want [report]", storeSavedNames(got), err)
		}
		checkSameRecord(t, `ListSavedContexts("@a:x")[0]`, got[0], want)
	})
	t.Run("per user, oldest first, ties by name", func(t *testing.T) {
		s, ctx := c.store(t), t.Context()
		sc := func(user, name string, sec int) actors.SavedContext {
			return actors.SavedContext{UserID: user, Name: name, PlatformChatID: strconv.Itoa(100 + sec), AgentID: "agent-0", SavedAt: contractAt(sec)}
		}
		// Written neither in the listed order nor in name order.
		for _, v := range []actors.SavedContext{
			sc("@a:x", "later", 3),
			sc("@a:x", "first", 1),
			sc("@a:x", "b/same", 2),
			sc("@a:x/y", "other user", 0),
			sc("@a:x", "a-same", 2),
			sc("@a:xy", "prefix user", 0),
			sc("@a:x", "Zed", 4),
		} {
			mustPutSaved(t, ctx, s, v)
		}
		tests := []struct {
			user string
			want []actors.SavedContext
		}{
			{user: "@a:x", want: []actors.SavedContext{
				sc("@a:x", "first", 1), sc("@a:x", "a-same", 2), sc("@a:x", "b/same", 2), sc("@a:x", "later", 3), sc("@a:x", "Zed", 4),
			}},
			{user: "@a:x/y", want: []actors.SavedContext{sc("@a:x/y", "other user", 0)}},
			{user: "@a:xy", want: []actors.SavedContext{sc("@a:xy", "prefix user", 0)}},
			{user: "@nobody:x", want: nil},
		}
		for _, tc := range tests {
			t.Run(tc.user, func(t *testing.T) {
				got, err := s.ListSavedContexts(ctx, tc.user)
				if err != nil {
					t.Fatalf("ListSavedContexts(%q): %v", tc.user, err)
				}
				if names, want := storeSavedNames(got), storeSavedNames(tc.want); !slices.Equal(names, want) {
					t.Fatalf("ListSavedContexts(%q) = %q, want %q (only this user's, by SavedAt then name)", tc.user, names, want)
				}
				checkSameRecord(t, fmt.Sprintf("ListSavedContexts(%q)", tc.user), got, tc.want)
			})
		}
	})
	t.Run("same name replaces", func(t *testing.T) {
		s, ctx := c.store(t), t.Context()
		first := actors.SavedContext{UserID: "@a:x", Name: "ctx", PlatformChatID: "1", AgentID: "agent-0", SavedAt: contractAt(1)}
		other := actors.SavedContext{UserID: "@a:x", Name: "other", PlatformChatID: "2", AgentID: "agent-0", SavedAt: contractAt(2)}
		again := actors.SavedContext{UserID: "@a:x", Name: "ctx", PlatformChatID: "9", AgentID: "agent-1", SavedAt: contractAt(3)}
		// Another user's context of the same name is a different one.
		elsewhere := actors.SavedContext{UserID: "@b:x", Name: "ctx", PlatformChatID: "5", SavedAt: contractAt(0)}
		for _, v := range []actors.SavedContext{first, elsewhere, other, again} {
			mustPutSaved(t, ctx, s, v)
		}
		got, err := s.ListSavedContexts(ctx, "@a:x")
		if err != nil {
			t.Fatalf("ListSavedContexts: %v", err)
		}
		want := []actors.SavedContext{other, again}
		if names := storeSavedNames(got); !slices.Equal(names, storeSavedNames(want)) {
			t.Fatalf("after saving %q twice ListSavedContexts = %q, want %q (the second save replaces the first, ordered by its new SavedAt)", "ctx", names, storeSavedNames(want))
		}
		checkSameRecord(t, `ListSavedContexts("@a:x") after re-saving "ctx"`, got, want)
		gotB, err := s.ListSavedContexts(ctx, "@b:x")
		if err != nil {
			t.Fatalf("ListSavedContexts(@b:x): %v", err)
		}
		checkSameRecord(t, `ListSavedContexts("@b:x")`, gotB, []actors.SavedContext{elsewhere})
	})
}

// putUsers: PutUsers stores many users as PutUser would (more than one
// batch of the Badger store), replacing the ones there, and refuses a
// batch holding a user without an id.
func (c contract) putUsers(t *testing.T) {
	s, ctx := c.store(t), t.Context()
	mustPutUser(t, ctx, s, contractUser("@u0007:x"))
	var users []actors.UserRecord
	for i := range 1201 {
		u := contractUser(fmt.Sprintf("@u%04d:x", i))
		u.ChatCounter = i
		users = append(users, u)
	}
	if err := s.PutUsers(ctx, users); err != nil {
		t.Fatalf("PutUsers(1201 users): %v", err)
	}
	listed, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1201 || listed[7].ChatCounter != 7 || listed[1200].UserID != "@u1200:x" {
		t.Fatalf("after PutUsers ListUsers has %d users (the 8th with chat counter %d), want 1201, the 8th replaced with 7",
			len(listed), listed[min(7, len(listed)-1)].ChatCounter)
	}
	if err := s.PutUsers(ctx, []actors.UserRecord{{UserID: "@fine:x"}, {UserID: ""}}); err == nil {
		t.Fatal("PutUsers stored a batch with a user without an id")
	}
	if _, err := s.GetUser(ctx, "@fine:x"); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("a refused batch left its valid user behind: %v", err)
	}
}

// putRooms: PutRooms stores many rooms as PutRoom would (more than one
// batch of them), moves an owner's index like PutRoom, and refuses an
// invalid room.
func (c contract) putRooms(t *testing.T) {
	s, ctx := c.store(t), t.Context()
	var rooms []actors.RoomRecord
	for i := range 1201 {
		r := contractRoom("!batch"+strconv.Itoa(i)+":x", "@owner"+strconv.Itoa(i%3)+":x")
		r.ChatIndex = i
		rooms = append(rooms, r)
	}
	if err := s.PutRooms(ctx, rooms); err != nil {
		t.Fatalf("PutRooms(1201 rooms): %v", err)
	}
	moved := rooms[7]
	moved.OwnerID, moved.ChatIndex = "@owner2:x", 5000
	if err := s.PutRooms(ctx, []actors.RoomRecord{moved}); err != nil {
		t.Fatalf("PutRooms(moved): %v", err)
	}
	counts := map[string]int{}
	for _, owner := range []string{"@owner0:x", "@owner1:x", "@owner2:x"} {
		list, err := s.ListRooms(ctx, owner)
		if err != nil {
			t.Fatal(err)
		}
		counts[owner] = len(list)
	}
	if counts["@owner0:x"] != 401 || counts["@owner1:x"] != 399 || counts["@owner2:x"] != 401 {
		t.Fatalf("rooms by owner %v after PutRooms and a move, want 401, 399 and 401", counts)
	}
	got, err := s.GetRoom(ctx, rooms[1200].RoomID)
	if err != nil || got.ChatIndex != 1200 || got.OwnerID != "@owner0:x" {
		t.Fatalf("GetRoom of the last room of the batch = %+v, %v", got, err)
	}
	bad := contractRoom("!bad:x", "")
	if err := s.PutRooms(ctx, []actors.RoomRecord{bad}); err == nil {
		t.Fatal("PutRooms stored a room without an owner")
	}
}
