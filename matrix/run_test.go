package matrix

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"github.com/surfaces-bot/surfaces/actors"
)

// syncState is a memState that keeps the sync position and records what
// the sync loop stores.
type syncState struct {
	*memState
	mu               sync.Mutex
	filterID, batch  string
	savedFilters     []string
	savedBatches     []string
	loadErr          error
	handled          []string // event ids handled before the test
	savedForUsers    []string
	loadedForUserIDs []string
}

func (s *syncState) SaveFilterID(_ context.Context, u, f string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.savedFilters, s.savedForUsers = append(s.savedFilters, f), append(s.savedForUsers, u)
	return nil
}

func (s *syncState) LoadFilterID(_ context.Context, u string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadedForUserIDs = append(s.loadedForUserIDs, u)
	return s.filterID, nil
}

func (s *syncState) SaveNextBatch(_ context.Context, u, b string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.savedBatches, s.savedForUsers = append(s.savedBatches, b), append(s.savedForUsers, u)
	return nil
}

func (s *syncState) CommitSync(ctx context.Context, u, b string, handled []string) error {
	if err := s.memState.CommitSync(ctx, u, b, handled); err != nil {
		return err
	}
	return s.SaveNextBatch(ctx, u, b)
}

func (s *syncState) LoadNextBatch(_ context.Context, u string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadedForUserIDs = append(s.loadedForUserIDs, u)
	return s.batch, s.loadErr
}

// syncResponses answers /sync by its since token; an unknown token is a
// long poll with nothing new, and reaching it is reported on idle.
func syncResponses(hs *testHomeserver, bySince map[string]string, idle chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		since := r.URL.Query().Get("since")
		if body, ok := bySince[since]; ok {
			writeJSON(w, 200, body)
			return
		}
		select {
		case idle <- since:
		default:
		}
		hs.block(r)
	}
}

const (
	inviteSync = `{"next_batch":"s1","rooms":{
		"invite":{"!inv:hs.test":{"invite_state":{"events":[{"type":"m.room.member","sender":"@alice:hs.test",
			"state_key":"@bot:hs.test","content":{"membership":"invite"}}]}}},
		"join":{"!r:hs.test":{"timeline":{"events":[{"type":"m.room.message","event_id":"$old",
			"sender":"@alice:hs.test","origin_server_ts":1,"content":{"msgtype":"m.text","body":"history"}}]}}}}}`
	messageSync = `{"next_batch":"s2","rooms":{"join":{"!r:hs.test":{"timeline":{"events":[
		{"type":"m.room.message","event_id":"$new","sender":"@alice:hs.test","origin_server_ts":2,
			"content":{"msgtype":"m.text","body":"hello bot"}}]}}}}}`
	botFilter = `{"account_data":{"not_types":["*"]},"presence":{"not_types":["*"]},"room":{
		"account_data":{"not_types":["*"]},"ephemeral":{"not_types":["*"]},
		"state":{"lazy_load_members":true},"timeline":{"limit":50,"lazy_load_members":true}}}`
)

// TestRun: the sync loop creates the filter once, treats the first sync of
// an empty state as history (invites only), then delivers new messages,
// stores the next_batch of each response once its events are acked (the
// sink acks them at once; responses may be stored together), and ends
// without error when its context ends.
func TestRun(t *testing.T) {
	tests := []struct {
		name      string
		state     *syncState
		bySince   map[string]string
		wantReqs  []string // method, path and sorted query of each request
		wantSinks []string
		wantSaved []string
	}{
		{
			name:    "fresh state",
			state:   &syncState{},
			bySince: map[string]string{"": inviteSync, "s1": messageSync},
			wantReqs: []string{
				"POST /_matrix/client/v3/user/@bot:hs.test/filter ",
				"GET /_matrix/client/v3/sync filter=f1&timeout=0",
				"GET /_matrix/client/v3/sync filter=f1&since=s1&timeout=30000",
				"GET /_matrix/client/v3/sync filter=f1&since=s2&timeout=30000",
			},
			wantSinks: []string{"invite !inv:hs.test from @alice:hs.test", "first sync", "message $new in !r:hs.test: hello bot"},
			wantSaved: []string{"s1", "s2"},
		},
		{
			name:    "resumed from a stored position",
			state:   &syncState{filterID: "fstored", batch: "s1"},
			bySince: map[string]string{"s1": messageSync},
			wantReqs: []string{
				"GET /_matrix/client/v3/sync filter=fstored&since=s1&timeout=0",
				"GET /_matrix/client/v3/sync filter=fstored&since=s2&timeout=30000",
			},
			wantSinks: []string{"message $new in !r:hs.test: hello bot", "first sync"},
			wantSaved: []string{"s2"},
		},
		{
			name:    "restart replays an event handled before",
			state:   &syncState{filterID: "fstored", batch: "s1", handled: []string{"$new"}},
			bySince: map[string]string{"s1": messageSync},
			wantReqs: []string{
				"GET /_matrix/client/v3/sync filter=fstored&since=s1&timeout=0",
				"GET /_matrix/client/v3/sync filter=fstored&since=s2&timeout=30000",
			},
			wantSinks: []string{"first sync"},
			wantSaved: []string{"s2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			idle := make(chan string, 1)
			hs.handle(t, routeSync, syncResponses(hs, tc.bySince, idle))
			tc.state.memState = newMemState()
			for _, id := range tc.state.handled {
				tc.state.seen[id] = true
			}
			c, err := Connect(testContext(t), Credentials{Homeserver: hs.URL, UserID: botID, AccessToken: "tok"}, tc.state)
			if err != nil {
				t.Fatal(err)
			}
			hs.reset()

			var mu sync.Mutex
			var sinks []string
			note := func(s string) {
				mu.Lock()
				defer mu.Unlock()
				sinks = append(sinks, s)
			}
			sink := func(m any) {
				ackAll([]any{m})
				switch m := m.(type) {
				case *actors.InviteReceived:
					note(fmt.Sprintf("invite %s from %s", m.RoomID, m.Inviter))
				case *actors.MessageReceived:
					note(fmt.Sprintf("message %s in %s: %s", m.EventID, m.RoomID, m.Body))
				default:
					note(fmt.Sprintf("unexpected %T", m))
				}
			}
			firstSync := func() { note("first sync") }
			ctx, cancel := context.WithCancel(testContext(t))
			defer cancel()
			ran := make(chan error, 1)
			go func() { ran <- c.Run(ctx, sink, firstSync) }()

			select {
			case <-idle: // all scripted responses were processed
			case err := <-ran:
				t.Fatalf("Run returned %v before the sync loop went idle", err)
			case <-time.After(30 * time.Second):
				t.Fatal("the sync loop did not reach the long poll with nothing new within 30 s")
			}
			cancel()
			if err := within(t, 30*time.Second, "Run after its context was cancelled", func() error { return <-ran }); err != nil {
				t.Fatalf("Run returned %v after cancel, want nil", err)
			}
			if err := c.CommitSync(testContext(t)); err != nil {
				t.Fatal(err)
			}

			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(sinks, tc.wantSinks) {
				t.Fatalf("sink got %q, want %q", sinks, tc.wantSinks)
			}
			var reqs []string
			for _, r := range hs.requests() {
				q, _ := url.ParseQuery(r.Query)
				reqs = append(reqs, r.Method+" "+r.Path+" "+q.Encode())
				if r.Method == "POST" && !jsonEqual(t, r.Body, []byte(botFilter)) {
					t.Fatalf("filter %s, want %s", r.Body, botFilter)
				}
			}
			if !slices.Equal(reqs, tc.wantReqs) {
				t.Fatalf("requests\n%q\nwant\n%q", reqs, tc.wantReqs)
			}
			tc.state.mu.Lock()
			defer tc.state.mu.Unlock()
			wantFilters := []string{"f1"}
			if tc.state.filterID != "" {
				wantFilters = nil
			}
			if !inOrder(tc.state.savedBatches, tc.wantSaved) || !slices.Equal(tc.state.savedFilters, wantFilters) {
				t.Fatalf("stored batches %q and filters %q, want %q and %q",
					tc.state.savedBatches, tc.state.savedFilters, tc.wantSaved, wantFilters)
			}
			for _, u := range append(tc.state.savedForUsers, tc.state.loadedForUserIDs...) {
				if u != botID {
					t.Fatalf("sync position stored for %q, want %s", u, botID)
				}
			}
		})
	}
}

// inOrder reports whether saved holds only tokens of want, in want's order,
// ending with want's last: positions are stored in order and the last one
// is stored, but responses acked together are stored once.
func inOrder(saved, want []string) bool {
	if len(saved) == 0 || len(want) == 0 {
		return len(saved) == len(want)
	}
	if saved[len(saved)-1] != want[len(want)-1] {
		return false
	}
	i := 0
	for _, s := range saved {
		for i < len(want) && want[i] != s {
			i++
		}
		if i == len(want) {
			return false
		}
	}
	return true
}

// TestRunStops: Run ends with an error when syncing cannot go on.
func TestRunStops(t *testing.T) {
	refuse := func(status int, errcode string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { matrixError(w, status, errcode, "refused by the test") }
	}
	broken := errors.New("disk on fire")
	tests := []struct {
		name    string
		route   string
		handler http.HandlerFunc
		state   *syncState
		wantErr error
	}{
		{"revoked token (sync and /whoami refuse it)", routeSync, refuse(401, "M_UNKNOWN_TOKEN"), &syncState{filterID: "f"}, mautrix.MUnknownToken},
		{"filter refused", routeFilter, refuse(403, "M_FORBIDDEN"), &syncState{}, mautrix.MForbidden},
		{"sync position unreadable", routeSync, nil, &syncState{loadErr: broken}, broken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			if tc.handler != nil {
				hs.handle(t, tc.route, tc.handler)
			}
			tc.state.memState = newMemState()
			c, err := Connect(testContext(t), Credentials{Homeserver: hs.URL, UserID: botID, AccessToken: "tok"}, tc.state)
			if err != nil {
				t.Fatal(err)
			}
			if errors.Is(tc.wantErr, mautrix.MUnknownToken) {
				hs.handle(t, routeWhoami, refuse(401, "M_UNKNOWN_TOKEN")) // after the login's own check
			}
			ctx := testContext(t)
			sink := func(m any) { t.Errorf("sink got %T from a failing sync", m) }
			err = within(t, 30*time.Second, "Run against a failing homeserver", func() error {
				return c.Run(ctx, sink, func() { t.Error("onFirstSync ran without a sync") })
			})
			if !errors.Is(err, tc.wantErr) || ctx.Err() != nil {
				t.Fatalf("Run returned %v (context: %v), want an error wrapping %v at once", err, ctx.Err(), tc.wantErr)
			}
		})
	}
}

// TestOnFailedSync: a token that /whoami also refuses stops the loop; a
// refusal /whoami contradicts (a homeserver under load) and anything else
// is retried after 5 s, the former at most 5 times in a row.
func TestOnFailedSync(t *testing.T) {
	revoked := mautrix.HTTPError{RespError: &mautrix.RespError{ErrCode: "M_UNKNOWN_TOKEN", StatusCode: 401}}
	refused := func(w http.ResponseWriter, _ *http.Request) { matrixError(w, 401, "M_UNKNOWN_TOKEN", "Unknown token") }
	accepted := func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, `{"user_id":"`+botID+`"}`) }
	tests := []struct {
		name     string
		err      error
		whoami   http.HandlerFunc
		times    int // OnFailedSync calls in a row; the last is checked
		wantWait time.Duration
		stop     bool
	}{
		{"revoked token", revoked, refused, 1, 0, true},
		{"revoked token, wrapped", fmt.Errorf("sync: %w", revoked), refused, 1, 0, true},
		{"refused once, /whoami accepts it", revoked, accepted, 1, 5 * time.Second, false},
		{"refused 5 times in a row, /whoami accepts it", revoked, accepted, 5, 5 * time.Second, false},
		{"refused 6 times in a row, /whoami accepts it", revoked, accepted, 6, 0, true},
		{"server error", mautrix.HTTPError{RespError: &mautrix.RespError{ErrCode: "M_UNKNOWN", StatusCode: 500}}, nil, 1, 5 * time.Second, false},
		{"network error", &url.Error{Op: "Get", URL: "http://127.0.0.1:1", Err: errors.New("connection refused")}, nil, 1, 5 * time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestSyncer(t)
			if tc.whoami != nil {
				hs := newTestHomeserver(t)
				hs.handle(t, routeWhoami, tc.whoami)
				u, err := url.Parse(hs.URL)
				if err != nil {
					t.Fatal(err)
				}
				s.c.cli.HomeserverURL = u
			}
			var wait time.Duration
			var err error
			for range tc.times {
				wait, err = s.OnFailedSync(nil, tc.err)
			}
			if wait != tc.wantWait || (err != nil) != tc.stop || (tc.stop && !errors.Is(err, tc.err)) {
				t.Fatalf("OnFailedSync = %v, %v; want wait %v, stop %v", wait, err, tc.wantWait, tc.stop)
			}
		})
	}
}
