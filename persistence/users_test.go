package persistence

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
)

func TestUserRoundTrip(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	tests := []struct {
		name string
		user actors.UserRecord
	}{
		{name: "minimal", user: actors.UserRecord{UserID: "@min:x"}},
		{name: "full", user: actors.UserRecord{
			UserID: "@alice:example.org", SpaceID: "!space:example.org", EntryRoomID: "!dm:example.org",
			AgentID: "agent-0", ChatCounter: 7, DefaultAgentNoticed: true, CreatedAt: at(1), UpdatedAt: at(2),
		}},
		{name: "slash and percent in id", user: actors.UserRecord{UserID: "@a/b%2F:x", ChatCounter: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.PutUser(ctx, tc.user); err != nil {
				t.Fatalf("PutUser: %v", err)
			}
			got, err := s.GetUser(ctx, tc.user.UserID)
			if err != nil {
				t.Fatalf("GetUser: %v", err)
			}
			if !reflect.DeepEqual(got, tc.user) {
				t.Fatalf("GetUser = %+v, want %+v", got, tc.user)
			}
		})
	}
}

func TestUserErrors(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	_, err := s.GetUser(ctx, "@nobody:x")
	if !errors.Is(err, actors.ErrNotFound) || !strings.Contains(err.Error(), "user/@nobody:x") {
		t.Fatalf("GetUser missing = %v, want ErrNotFound naming the key", err)
	}
	if err := s.PutUser(ctx, actors.UserRecord{}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("PutUser empty id = %v, want ErrInvalidRecord", err)
	}
}

func TestListUsers(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	if got, err := s.ListUsers(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ListUsers on empty store = %v, %v", got, err)
	}
	for _, id := range []string{"@c:x", "@a:x", "@b:x"} {
		if err := s.PutUser(ctx, actors.UserRecord{UserID: id}); err != nil {
			t.Fatalf("PutUser: %v", err)
		}
	}
	// Overwriting does not duplicate.
	if err := s.PutUser(ctx, actors.UserRecord{UserID: "@a:x", ChatCounter: 2}); err != nil {
		t.Fatalf("PutUser: %v", err)
	}
	got, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	var ids []string
	for _, u := range got {
		ids = append(ids, u.UserID)
	}
	if want := []string{"@a:x", "@b:x", "@c:x"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("ListUsers ids = %v, want %v", ids, want)
	}
	if got[0].ChatCounter != 2 {
		t.Fatalf("ListUsers[0].ChatCounter = %d, want 2", got[0].ChatCounter)
	}
}

func TestSavedContexts(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	put := func(sc actors.SavedContext) {
		t.Helper()
		if err := s.PutSavedContext(ctx, sc); err != nil {
			t.Fatalf("PutSavedContext: %v", err)
		}
	}
	put(actors.SavedContext{UserID: "@a:x", Name: "later", PlatformChatID: "9", AgentID: "agent-0", SavedAt: at(3)})
	put(actors.SavedContext{UserID: "@a:x", Name: "first", PlatformChatID: "1", AgentID: "agent-0", SavedAt: at(1)})
	put(actors.SavedContext{UserID: "@a:x", Name: "b/same", PlatformChatID: "2", SavedAt: at(2)})
	put(actors.SavedContext{UserID: "@a:x", Name: "a-same", PlatformChatID: "3", SavedAt: at(2)})
	put(actors.SavedContext{UserID: "@a:x/y", Name: "other user", PlatformChatID: "5", SavedAt: at(0)})
	// Saving under an existing name replaces it.
	put(actors.SavedContext{UserID: "@a:x", Name: "later", PlatformChatID: "10", AgentID: "agent-1", SavedAt: at(4)})

	got, err := s.ListSavedContexts(ctx, "@a:x")
	if err != nil {
		t.Fatalf("ListSavedContexts: %v", err)
	}
	want := []actors.SavedContext{
		{UserID: "@a:x", Name: "first", PlatformChatID: "1", AgentID: "agent-0", SavedAt: at(1)},
		{UserID: "@a:x", Name: "a-same", PlatformChatID: "3", SavedAt: at(2)},
		{UserID: "@a:x", Name: "b/same", PlatformChatID: "2", SavedAt: at(2)},
		{UserID: "@a:x", Name: "later", PlatformChatID: "10", AgentID: "agent-1", SavedAt: at(4)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ListSavedContexts =\n%+v\nwant\n%+v", got, want)
	}
	if got, err := s.ListSavedContexts(ctx, "@nobody:x"); err != nil || len(got) != 0 {
		t.Fatalf("ListSavedContexts of unknown user = %v, %v; want none", got, err)
	}

	for _, bad := range []actors.SavedContext{{Name: "n"}, {UserID: "@a:x"}} {
		if err := s.PutSavedContext(ctx, bad); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("PutSavedContext(%+v) = %v, want ErrInvalidRecord", bad, err)
		}
	}
}
