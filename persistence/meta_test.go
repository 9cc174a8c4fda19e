package persistence

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/surfaces-bot/surfaces/actors"
)

func TestMeta(t *testing.T) {
	s, dir := newTestStore(t)
	ctx := context.Background()
	if _, err := s.GetMeta(ctx, MetaDeviceID); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("GetMeta missing = %v, want ErrNotFound", err)
	}
	if err := s.PutMeta(ctx, MetaDeviceID, "DEVICE1"); err != nil {
		t.Fatalf("PutMeta: %v", err)
	}
	if err := s.PutMeta(ctx, MetaAccessToken, "secret"); err != nil {
		t.Fatalf("PutMeta: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openTestStore(t, dir)
	if v, err := s.GetMeta(ctx, MetaDeviceID); err != nil || v != "DEVICE1" {
		t.Fatalf("GetMeta after reopen = %q, %v", v, err)
	}
	if err := s.DeleteMeta(ctx, MetaAccessToken); err != nil {
		t.Fatalf("DeleteMeta: %v", err)
	}
	if err := s.DeleteMeta(ctx, "never-set"); err != nil {
		t.Fatalf("DeleteMeta of a missing name: %v", err)
	}
	if _, err := s.GetMeta(ctx, MetaAccessToken); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetMeta after delete = %v, want ErrNotFound", err)
	}
	if err := s.PutMeta(ctx, "", "v"); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("PutMeta empty name = %v, want ErrInvalidRecord", err)
	}
}

// Stored values are envelopes; a value from a newer binary is refused with
// an error naming its key, and garbage is reported as corrupt, never a panic.
func TestEnvelopeDecoding(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		raw     string
		wantErr error
	}{
		{name: "newer version", raw: `{"v":99,"data":{"user_id":"@u:x"}}`, wantErr: ErrUnsupportedVersion},
		{name: "missing version", raw: `{"data":{"user_id":"@u:x"}}`, wantErr: ErrCorrupt},
		{name: "missing data", raw: `{"v":1}`, wantErr: ErrCorrupt},
		{name: "not json", raw: `user`, wantErr: ErrCorrupt},
		{name: "bad payload", raw: `{"v":1,"data":{"chat_counter":"many"}}`, wantErr: ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.db.Update(func(txn *badger.Txn) error {
				return txn.Set(userKey("@u:x"), []byte(tc.raw))
			})
			if err != nil {
				t.Fatalf("write raw: %v", err)
			}
			_, err = s.GetUser(ctx, "@u:x")
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), `"user/@u:x"`) {
				t.Fatalf("GetUser = %v, want %v naming the key", err, tc.wantErr)
			}
			if _, err := s.ListUsers(ctx); !errors.Is(err, tc.wantErr) {
				t.Fatalf("ListUsers = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestEnvelopeFormat(t *testing.T) {
	s, _ := newTestStore(t)
	if err := s.PutUser(context.Background(), actors.UserRecord{UserID: "@u:x", ChatCounter: 3}); err != nil {
		t.Fatalf("PutUser: %v", err)
	}
	var raw []byte
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		raw, err = getRaw(txn, userKey("@u:x"))
		return err
	})
	if err != nil {
		t.Fatalf("read raw: %v", err)
	}
	if !strings.HasPrefix(string(raw), `{"v":1,"data":{"user_id":"@u:x",`) {
		t.Fatalf("stored value = %s, want a v1 envelope", raw)
	}
}

func TestKeyEscapingRoundTrips(t *testing.T) {
	for _, id := range []string{"", "!r:x", "a/b", "%2F", "%", "/%/", "!r%25:x/y"} {
		if got := unescapeKeyPart(escapeKeyPart(id)); got != id {
			t.Errorf("unescape(escape(%q)) = %q", id, got)
		}
		if strings.Contains(escapeKeyPart(id), "/") {
			t.Errorf("escape(%q) = %q contains a slash", id, escapeKeyPart(id))
		}
		got, err := roomIDFromOwnerKey(roomOwnerKey("@o:x", 1, id))
		if id == "" {
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("roomIDFromOwnerKey of an empty id = %q, %v; want ErrCorrupt", got, err)
			}
			continue
		}
		if err != nil || got != id {
			t.Errorf("roomIDFromOwnerKey(roomOwnerKey(%q)) = %q, %v", id, got, err)
		}
	}
}
