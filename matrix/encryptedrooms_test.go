package matrix

import (
	"net/http"
	"path/filepath"
	"testing"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/sqlstatestore"
)

// TestRoomStatesAskTheHomeserverOnce: a room the state store does not know
// as encrypted is checked on the homeserver before the first send, once a
// run; an encrypted one is recorded, so the bot's messages are encrypted
// even when no sync carried the room's m.room.encryption; a failed check
// fails the send instead of letting it go out in the clear.
func TestRoomStatesAskTheHomeserverOnce(t *testing.T) {
	tests := []struct {
		name      string
		answer    http.HandlerFunc
		want      bool
		wantErr   bool
		wantAsked int // requests after two checks
	}{
		{"encrypted", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, `{"algorithm":"m.megolm.v1.aes-sha2"}`)
		}, true, false, 1},
		{"not encrypted", func(w http.ResponseWriter, _ *http.Request) {
			matrixError(w, http.StatusNotFound, "M_NOT_FOUND", "Event not found.")
		}, false, false, 1},
		{"cannot tell", func(w http.ResponseWriter, _ *http.Request) {
			matrixError(w, http.StatusInternalServerError, "M_UNKNOWN", "database on fire")
		}, false, true, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			db, err := openCryptoDB(filepath.Join(t.TempDir(), "crypto.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			raw := sqlstatestore.NewSQLStateStore(db, dbutil.NoopLogger, false)
			if err := raw.Upgrade(testContext(t)); err != nil {
				t.Fatal(err)
			}
			states := &roomStates{SQLStateStore: raw, cli: c.cli}
			c.cli.StateStore = states
			hs.handle(t, routeGetState, tc.answer)
			hs.reset()
			room := id.RoomID("!dm:hs.test")
			for range 2 {
				got, err := states.IsEncrypted(testContext(t), room)
				if got != tc.want || (err != nil) != tc.wantErr {
					t.Fatalf("IsEncrypted = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
				}
			}
			if n := len(hs.requests()); n != tc.wantAsked {
				t.Fatalf("the homeserver was asked %d times, want %d", n, tc.wantAsked)
			}
			if stored, _ := raw.IsEncrypted(testContext(t), room); stored != tc.want {
				t.Fatalf("the store says encrypted=%v, want %v", stored, tc.want)
			}
		})
	}
}
