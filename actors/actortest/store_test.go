package actortest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// TestStoreContract runs the actors.Store contract, which persistence.Store
// (Badger) also passes, against the in-memory fake.
func TestStoreContract(t *testing.T) {
	actortest.RunStoreContract(t, func(*testing.T) actors.Store { return actortest.NewStore() })
}

func TestStoreFailWrites(t *testing.T) {
	s, ctx := actortest.NewStore(), t.Context()
	boom := errors.New("boom")
	s.FailWrites(boom)
	writes := map[string]func() error{
		"PutUser": func() error { return s.PutUser(ctx, actors.UserRecord{UserID: "@a:x"}) },
		"PutRoom": func() error { return s.PutRoom(ctx, actors.RoomRecord{RoomID: "!r:x", OwnerID: "@a:x"}) },
		"PutSavedContext": func() error {
			return s.PutSavedContext(ctx, actors.SavedContext{UserID: "@a:x", Name: "n"})
		},
		"NextPlatformChatID": func() error { _, err := s.NextPlatformChatID(ctx); return err },
	}
	for name, write := range writes {
		if err := write(); !errors.Is(err, boom) {
			t.Errorf("%s under FailWrites(boom) = %v, want an error wrapping boom", name, err)
		}
	}
	if u, err := s.GetUser(ctx, "@a:x"); !errors.Is(err, actors.ErrNotFound) {
		t.Errorf("GetUser after a failed PutUser = (%+v, %v), want ErrNotFound", u, err)
	}
	if r, err := s.GetRoom(ctx, "!r:x"); !errors.Is(err, actors.ErrNotFound) {
		t.Errorf("GetRoom after a failed PutRoom = (%+v, %v), want ErrNotFound", r, err)
	}
	if saved, err := s.ListSavedContexts(ctx, "@a:x"); err != nil || len(saved) != 0 {
		t.Errorf("ListSavedContexts after a failed put = (%+v, %v), want none", saved, err)
	}

	s.FailWrites(nil)
	for name, write := range writes {
		if err := write(); err != nil {
			t.Errorf("%s after FailWrites(nil) = %v, want nil", name, err)
		}
	}
	// The failed NextPlatformChatID consumed nothing.
	if id, err := s.NextPlatformChatID(ctx); err != nil || id != "2" {
		t.Errorf("NextPlatformChatID after one failed and one good call = (%q, %v), want (\"2\", nil)", id, err)
	}
}

func TestStoreFailReads(t *testing.T) {
	s := actortest.NewStore()
	ctx := context.Background()
	if err := s.PutUser(ctx, actors.UserRecord{UserID: "@a:x"}); err != nil {
		t.Fatal(err)
	}
	gone := errors.New("disk gone")
	s.FailNextReads(2, gone)
	for i := range 2 {
		if _, err := s.GetUser(ctx, "@a:x"); !errors.Is(err, gone) {
			t.Fatalf("read %d = %v, want the injected error", i+1, err)
		}
	}
	if _, err := s.GetUser(ctx, "@a:x"); err != nil {
		t.Fatalf("third read = %v, want it to succeed", err)
	}
	s.FailReads(gone)
	if _, err := s.ListUsers(ctx); !errors.Is(err, gone) {
		t.Fatalf("ListUsers = %v, want the injected error", err)
	}
	s.FailReads(nil)
	if _, err := s.ListUsers(ctx); err != nil {
		t.Fatalf("ListUsers after clearing = %v", err)
	}
}
