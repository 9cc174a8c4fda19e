package matrix

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

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

// A join the homeserver continues in the background (Dendrite's 202 after
// 20 s, no room id) is waited for until the membership shows it; one that
// never shows fails after joinWait.
func TestJoinInvitedWaitsForAJoinContinuedInTheBackground(t *testing.T) {
	defer func(w, p time.Duration) { joinWait, joinPoll = w, p }(joinWait, joinPoll)
	joinWait, joinPoll = time.Second, 10*time.Millisecond
	tests := []struct {
		name        string
		joinedAfter int32 // membership reads before it shows the join; 0: never
		wantErr     bool
	}{
		{"joined on the third read", 3, false},
		{"never joined", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var joins, reads atomic.Int32
			mux := http.NewServeMux()
			mux.HandleFunc("POST /_matrix/client/v3/rooms/{room}/join", func(w http.ResponseWriter, _ *http.Request) {
				joins.Add(1)
				w.WriteHeader(http.StatusAccepted)
				w.Write([]byte(`{"errcode":"M_UNKNOWN","error":"The room join will continue in the background."}`))
			})
			mux.HandleFunc("GET /_matrix/client/v3/rooms/{room}/state/m.room.member/{user}", func(w http.ResponseWriter, _ *http.Request) {
				if n := reads.Add(1); tc.joinedAfter == 0 || n < tc.joinedAfter {
					w.WriteHeader(http.StatusForbidden)
					w.Write([]byte(`{"errcode":"M_FORBIDDEN","error":"not in the room"}`))
					return
				}
				w.Write([]byte(`{"membership":"join"}`))
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			cli, err := mautrix.NewClient(srv.URL, id.UserID(botID), "token")
			if err != nil {
				t.Fatal(err)
			}
			cli.StateStore = mautrix.NewMemoryStateStore()
			err = JoinInvited(context.Background(), cli, "!r:hs.test")
			if (err != nil) != tc.wantErr || joins.Load() != 1 {
				t.Fatalf("JoinInvited: %v after %d joins and %d reads, want error %t after one join", err, joins.Load(), reads.Load(), tc.wantErr)
			}
			if !tc.wantErr {
				if reads.Load() != tc.joinedAfter {
					t.Fatalf("%d membership reads, want %d", reads.Load(), tc.joinedAfter)
				}
				if !cli.StateStore.IsMembership(context.Background(), "!r:hs.test", id.UserID(botID), "join") {
					t.Fatal("the state store does not hold the join")
				}
			}
		})
	}
}

// A decline Dendrite refuses because its roomserver does not hold the
// invite yet ("is not a member of room", 400) is tried again until it goes
// through; any other refusal is final.
func TestRejectInviteTriesARefusedDeclineAgain(t *testing.T) {
	defer func(p time.Duration) { refusedPause = p }(refusedPause)
	refusedPause = time.Millisecond
	notHeld := `{"errcode":"M_UNKNOWN","error":"user \"@surfaces:hs.test\" is not a member of room \"!r:hs.test\""}`
	tests := []struct {
		name      string
		refusals  int
		status    int
		body      string
		wantTries int32
		wantErr   bool
	}{
		{"the invite not held yet, twice", 2, http.StatusBadRequest, notHeld, 3, false},
		{"never held", 10, http.StatusBadRequest, notHeld, 5, true},
		{"another bad request", 10, http.StatusBadRequest, `{"errcode":"M_BAD_JSON","error":"reason too long"}`, 1, true},
		{"forbidden", 10, http.StatusForbidden, `{"errcode":"M_FORBIDDEN","error":"is not a member of room"}`, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tries atomic.Int32
			mux := http.NewServeMux()
			mux.HandleFunc("POST /_matrix/client/v3/rooms/{room}/leave", func(w http.ResponseWriter, _ *http.Request) {
				if int(tries.Add(1)) <= tc.refusals {
					w.WriteHeader(tc.status)
					w.Write([]byte(tc.body))
					return
				}
				w.Write([]byte(`{}`))
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			cli, err := mautrix.NewClient(srv.URL, id.UserID(botID), "token")
			if err != nil {
				t.Fatal(err)
			}
			c := &Client{cli: cli}
			err = c.RejectInvite(context.Background(), "!r:hs.test", "not allowed")
			if (err != nil) != tc.wantErr || tries.Load() != tc.wantTries {
				t.Fatalf("RejectInvite: %v after %d tries, want error %t after %d", err, tries.Load(), tc.wantErr, tc.wantTries)
			}
		})
	}
}
