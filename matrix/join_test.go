package matrix

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// A join Dendrite refuses because its roomserver does not hold the invite
// yet is tried again until it goes through; any other refusal is final.
func TestJoinInvitedTriesARefusedJoinAgain(t *testing.T) {
	tests := []struct {
		name      string
		refusals  int
		errcode   string
		wantTries int32
		wantErr   bool
	}{
		{"the invite not held yet, twice", 2, "InputWasRejected", 3, false},
		{"never held", 10, "InputWasRejected", 5, true},
		{"not invited at all", 10, "You are not invited to this room.", 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tries atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if int(tries.Add(1)) <= tc.refusals {
					w.WriteHeader(http.StatusForbidden)
					w.Write([]byte(`{"errcode":"M_FORBIDDEN","error":"` + tc.errcode + `"}`))
					return
				}
				w.Write([]byte(`{"room_id":"!r:hs.test"}`))
			}))
			t.Cleanup(srv.Close)
			cli, err := mautrix.NewClient(srv.URL, id.UserID(botID), "token")
			if err != nil {
				t.Fatal(err)
			}
			err = JoinInvited(context.Background(), cli, "!r:hs.test")
			if (err != nil) != tc.wantErr || tries.Load() != tc.wantTries {
				t.Fatalf("JoinInvited: %v after %d tries, want error %t after %d", err, tries.Load(), tc.wantErr, tc.wantTries)
			}
		})
	}
}
