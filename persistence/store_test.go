package persistence

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
)

func TestOpenOptions(t *testing.T) {
	tests := []struct {
		name    string
		dir     string
		opts    Options
		wantErr string
	}{
		{name: "negative ttl", dir: t.TempDir(), opts: Options{EventTTL: -1}, wantErr: "negative event TTL"},
		{name: "in memory with dir", dir: t.TempDir(), opts: Options{InMemory: true}, wantErr: "in-memory store needs an empty dir"},
		{name: "empty dir", dir: "", wantErr: "empty directory"},
		{name: "in memory", dir: "", opts: Options{InMemory: true}},
		{name: "on disk", dir: t.TempDir()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(testContext(t), tc.dir, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Open error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if err := s.PutMeta(context.Background(), "k", "v"); err != nil {
				t.Fatalf("PutMeta: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		})
	}
}

func TestMethodsAfterCloseFail(t *testing.T) {
	s, _ := newTestStore(t)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"PutUser":  func() error { return s.PutUser(ctx, actors.UserRecord{UserID: "@a:x"}) },
		"PutRoom":  func() error { return s.PutRoom(ctx, actors.RoomRecord{RoomID: "!r:x", OwnerID: "@a:x"}) },
		"PutSaved": func() error { return s.PutSavedContext(ctx, actors.SavedContext{UserID: "@a:x", Name: "n"}) },
		"NextID":   func() error { _, err := s.NextPlatformChatID(ctx); return err },
		"SetSync":  func() error { return s.SetSyncToken(ctx, "t") },
		"SaveNB":   func() error { return s.SaveNextBatch(ctx, "@bot:x", "t") },
		"Mark":     func() error { _, err := s.MarkEventHandled(ctx, "$e"); return err },
		"PutMeta":  func() error { return s.PutMeta(ctx, "k", "v") },
		"Wipe":     func() error { return s.Wipe(ctx) },
		"GetUser":  func() error { _, err := s.GetUser(ctx, "@a:x"); return err },
		"ListRoom": func() error { _, err := s.ListRooms(ctx, "@a:x"); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, ErrClosed) {
				t.Fatalf("error = %v, want ErrClosed", err)
			}
		})
	}
}

func TestCancelledContext(t *testing.T) {
	s, _ := newTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.PutUser(ctx, actors.UserRecord{UserID: "@a:x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("PutUser error = %v, want context.Canceled", err)
	}
	if _, err := s.GetUser(context.Background(), "@a:x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetUser error = %v, want ErrNotFound (nothing written)", err)
	}
}

func TestWipe(t *testing.T) {
	s, dir := newTestStore(t)
	ctx := context.Background()
	if err := s.PutUser(ctx, actors.UserRecord{UserID: "@a:x"}); err != nil {
		t.Fatalf("PutUser: %v", err)
	}
	if err := s.PutRoom(ctx, actors.RoomRecord{RoomID: "!r:x", OwnerID: "@a:x"}); err != nil {
		t.Fatalf("PutRoom: %v", err)
	}
	if err := s.Wipe(ctx); err != nil {
		t.Fatalf("Wipe: %v", err)
	}
	if _, err := s.GetUser(ctx, "@a:x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetUser after Wipe = %v, want ErrNotFound", err)
	}
	rooms, err := s.ListRooms(ctx, "@a:x")
	if err != nil || len(rooms) != 0 {
		t.Fatalf("ListRooms after Wipe = %v, %v; want none", rooms, err)
	}
	// The wiped store is stamped again and reopens.
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	openTestStore(t, dir)
}

func TestOpenRefusesNewerLayout(t *testing.T) {
	s, dir := newTestStore(t)
	err := s.db.Update(func(txn *badger.Txn) error {
		return setValue(txn, []byte(keyLayout), versionLayout, layoutValue{Layout: layoutVersion + 1})
	})
	if err != nil {
		t.Fatalf("write layout: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err = Open(testContext(t), dir, Options{})
	if !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("Open error = %v, want ErrUnsupportedVersion", err)
	}
}

func TestBadgerLogsGoToZerolog(t *testing.T) {
	var buf bytes.Buffer
	l := zerolog.New(&buf).Level(zerolog.DebugLevel)
	bl := newBadgerLogger(&l)
	bl.Infof("opened %d tables\n", 3)
	bl.Warningf("slow %s", "disk")
	bl.Errorf("broken")
	bl.Debugf("detail")
	out := buf.String()
	for _, want := range []string{
		`"level":"debug","component":"badger","message":"opened 3 tables"`,
		`"level":"warn","component":"badger","message":"slow disk"`,
		`"level":"error","component":"badger","message":"broken"`,
		`"message":"detail"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %s:\n%s", want, out)
		}
	}
}

// A second Open of a directory in use fails with ErrLocked (the operator
// tools tell "stop the bot first" from it); after Close it opens again.
func TestOpenLockedDirectory(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	if _, err := Open(testContext(t), dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(testContext(t), dir, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}
