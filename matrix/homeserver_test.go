package matrix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"github.com/surfaces-bot/surfaces/actors"
)

// Routes of the fake homeserver: the client-server API endpoints the
// package uses, as http.ServeMux patterns.
const (
	routeWhoami         = "GET /_matrix/client/v3/account/whoami"
	routeLogin          = "POST /_matrix/client/v3/login"
	routeSend           = "PUT /_matrix/client/v3/rooms/{room}/send/{type}/{txn}"
	routeTyping         = "PUT /_matrix/client/v3/rooms/{room}/typing/{user}"
	routeReceipt        = "POST /_matrix/client/v3/rooms/{room}/receipt/{type}/{event}"
	routeJoin           = "POST /_matrix/client/v3/rooms/{room}/join"
	routeLeave          = "POST /_matrix/client/v3/rooms/{room}/leave"
	routeForget         = "POST /_matrix/client/v3/rooms/{room}/forget"
	routeInvite         = "POST /_matrix/client/v3/rooms/{room}/invite"
	routeState          = "PUT /_matrix/client/v3/rooms/{room}/state/{type}/{key...}"
	routeGetState       = "GET /_matrix/client/v3/rooms/{room}/state/{type}/{key...}"
	routeMembers        = "GET /_matrix/client/v3/rooms/{room}/members"
	routeCreateRoom     = "POST /_matrix/client/v3/createRoom"
	routeGetDisplayName = "GET /_matrix/client/v3/profile/{user}/displayname"
	routeSetDisplayName = "PUT /_matrix/client/v3/profile/{user}/displayname"
	routeFilter         = "POST /_matrix/client/v3/user/{user}/filter"
	routeSync           = "GET /_matrix/client/v3/sync"
	routeMessages       = "GET /_matrix/client/v3/rooms/{room}/messages"
	routeKeysQuery      = "POST /_matrix/client/v3/keys/query"
	routeKeysUpload     = "POST /_matrix/client/v3/keys/upload"
	routePutDevice      = "PUT /_matrix/client/v3/devices/{device}"
	routeDeleteDevice   = "DELETE /_matrix/client/v3/devices/{device}"
	routeDownloadV1     = "GET /_matrix/client/v1/media/download/{server}/{id}"
	routeDownloadV3     = "GET /_matrix/media/v3/download/{server}/{id}"
	routeUpload         = "POST /_matrix/media/v3/upload"
	routeGetPushRule    = "GET /_matrix/client/v3/pushrules/global/override/{rule}/enabled"
	routePutPushRule    = "PUT /_matrix/client/v3/pushrules/global/override/{rule}/enabled"
)

// recorded is one request the fake homeserver received.
type recorded struct {
	Method string
	Path   string // decoded URL path
	Query  string
	Auth   string // Authorization header
	Body   []byte
}

func (r recorded) String() string { return r.Method + " " + r.Path + " " + string(r.Body) }

// testHomeserver is a fake Matrix homeserver on 127.0.0.1 that records every
// request and answers each route like a homeserver would, unless a test
// replaced the route's handler.
type testHomeserver struct {
	URL string
	srv *httptest.Server
	// done is closed (by stop) when the test ends; handlers that block
	// (long polls, a hanging server) return then.
	done chan struct{}
	stop func()

	mu        sync.Mutex
	reqs      []recorded
	overrides map[string]http.HandlerFunc
	routes    map[string]bool
}

func newTestHomeserver(t *testing.T) *testHomeserver {
	t.Helper()
	hs := &testHomeserver{
		done: make(chan struct{}), overrides: map[string]http.HandlerFunc{}, routes: map[string]bool{},
	}
	mux := http.NewServeMux()
	route := func(pattern string, def http.HandlerFunc) {
		hs.routes[pattern] = true
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			hs.mu.Lock()
			h := hs.overrides[pattern]
			hs.mu.Unlock()
			if h == nil {
				h = def
			}
			h(w, r)
		})
	}
	ok := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, body) }
	}
	route(routeWhoami, ok(`{"user_id":"@bot:hs.test","device_id":"DEV"}`))
	route(routeLogin, ok(`{"user_id":"@bot:hs.test","access_token":"tok-login","device_id":"DEVLOGIN"}`))
	route(routeSend, ok(`{"event_id":"$sent"}`))
	route(routeTyping, ok(`{}`))
	route(routeReceipt, ok(`{}`))
	route(routeJoin, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"room_id":"`+r.PathValue("room")+`"}`)
	})
	route(routeLeave, ok(`{}`))
	route(routeForget, ok(`{}`))
	route(routeInvite, ok(`{}`))
	route(routeMembers, ok(`{"chunk":[]}`))
	route(routeState, ok(`{"event_id":"$state"}`))
	route(routeGetState, func(w http.ResponseWriter, _ *http.Request) {
		matrixError(w, http.StatusNotFound, "M_NOT_FOUND", "Event not found.")
	})
	route(routeCreateRoom, ok(`{"room_id":"!new:hs.test"}`))
	route(routeGetDisplayName, ok(`{"displayname":"Alice"}`))
	route(routeSetDisplayName, ok(`{}`))
	route(routeFilter, ok(`{"filter_id":"f1"}`))
	route(routeSync, func(w http.ResponseWriter, r *http.Request) { hs.block(r) })
	route(routeMessages, ok(`{"chunk":[],"start":"s"}`))
	// No device has keys until the bot uploads its own.
	route(routeKeysQuery, ok(`{"device_keys":{}}`))
	route(routeKeysUpload, ok(`{"one_time_key_counts":{"signed_curve25519":50}}`))
	route(routePutDevice, ok(`{}`))
	route(routeDeleteDevice, func(w http.ResponseWriter, r *http.Request) {
		// User-interactive authentication: asked for, then answered.
		var body struct {
			Auth json.RawMessage `json:"auth"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if len(body.Auth) == 0 {
			writeJSON(w, http.StatusUnauthorized, `{"flows":[{"stages":["m.login.password"]}],"params":{},"session":"uia-1"}`)
			return
		}
		writeJSON(w, http.StatusOK, `{}`)
	})
	// The fake stores no media: downloads find nothing, uploads get one id.
	notFound := func(w http.ResponseWriter, _ *http.Request) {
		matrixError(w, http.StatusNotFound, "M_NOT_FOUND", "Not found")
	}
	route(routeDownloadV1, notFound)
	route(routeDownloadV3, notFound)
	route(routeUpload, ok(`{"content_uri":"mxc://hs.test/uploaded"}`))
	// A new account's master rule is off.
	route(routeGetPushRule, ok(`{"enabled":false}`))
	route(routePutPushRule, ok(`{}`))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		matrixError(w, http.StatusNotFound, "M_UNRECOGNIZED", "not served by the fake homeserver")
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake homeserver: %v", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		hs.mu.Lock()
		hs.reqs = append(hs.reqs, recorded{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), Body: body,
		})
		hs.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	hs.URL, hs.srv = srv.URL, srv
	hs.stop = sync.OnceFunc(func() { close(hs.done) })
	t.Cleanup(srv.Close)
	t.Cleanup(hs.stop) // runs first: unblocks handlers so Close can return
	return hs
}

// handle replaces the handler of one of the route* patterns.
func (hs *testHomeserver) handle(t *testing.T, pattern string, h http.HandlerFunc) {
	t.Helper()
	if !hs.routes[pattern] {
		t.Fatalf("fake homeserver has no route %q", pattern)
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.overrides[pattern] = h
}

// failAll makes every route answer with a Matrix error.
func (hs *testHomeserver) failAll(t *testing.T, status int, errcode string) {
	t.Helper()
	for pattern := range hs.routes {
		hs.handle(t, pattern, func(w http.ResponseWriter, _ *http.Request) {
			matrixError(w, status, errcode, "refused by the test")
		})
	}
}

// block holds a request until its client gives up or the test ends, like a
// long poll with nothing new or a homeserver that hangs.
func (hs *testHomeserver) block(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-hs.done:
	}
}

// close shuts the server down, as if the homeserver went away: its port
// refuses connections from now on.
func (hs *testHomeserver) close() {
	hs.stop()
	hs.srv.Close()
}

// requests returns what was received so far.
func (hs *testHomeserver) requests() []recorded {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return append([]recorded(nil), hs.reqs...)
}

func (hs *testHomeserver) reset() {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.reqs = nil
}

// connect logs a client in with an access token and forgets the login's
// requests, so a test sees only its own.
func (hs *testHomeserver) connect(t *testing.T) *Client {
	t.Helper()
	c, err := Connect(testContext(t), Credentials{Homeserver: hs.URL, UserID: botID, AccessToken: "tok"}, newMemState())
	if err != nil {
		t.Fatalf("Connect to the fake homeserver: %v", err)
	}
	hs.reset()
	return c
}

// newMemState knows the users the syncer tests write as (a record each).
func newMemState() *memState {
	users := map[string]actors.UserRecord{}
	for _, u := range []string{"@alice:hs.test", "@bob:hs.test", "@u:hs.test"} {
		users[u] = actors.UserRecord{UserID: u}
	}
	return &memState{seen: map[string]bool{}, meta: map[string]string{}, users: users, rooms: map[string]actors.RoomRecord{}}
}

// testContext ends with the test or after a generous 30 s.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func matrixError(w http.ResponseWriter, status int, errcode, msg string) {
	raw, _ := json.Marshal(map[string]string{"errcode": errcode, "error": msg})
	writeJSON(w, status, string(raw))
}

// wantRequest checks one recorded request: method, path (a trailing "/*"
// stands for one non-empty segment, e.g. a transaction id) and, unless
// wantBody is empty, the JSON body decoded and compared with wantBody's.
func wantRequest(t *testing.T, got recorded, method, path, wantBody string) {
	t.Helper()
	pathOK := got.Path == path
	if prefix, ok := strings.CutSuffix(path, "/*"); ok {
		rest, found := strings.CutPrefix(got.Path, prefix+"/")
		pathOK = found && rest != "" && !strings.Contains(rest, "/")
	}
	if got.Method != method || !pathOK {
		t.Fatalf("request %s %s, want %s %s", got.Method, got.Path, method, path)
	}
	if wantBody == "" {
		return
	}
	if !jsonEqual(t, got.Body, []byte(wantBody)) {
		t.Fatalf("%s %s body\n got %s\nwant %s", got.Method, got.Path, got.Body, wantBody)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("body %q is not JSON: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("expected body %q is not JSON: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// assertMatrixError checks that err says what failed (wantMsg) and still
// carries the homeserver's errcode.
func assertMatrixError(t *testing.T, err error, wantMsg, errcode string) {
	t.Helper()
	var httpErr mautrix.HTTPError
	if err == nil || !strings.Contains(err.Error(), wantMsg) {
		t.Fatalf("error %v, want one saying %q", err, wantMsg)
	}
	if !errors.As(err, &httpErr) || httpErr.RespError == nil || httpErr.RespError.ErrCode != errcode {
		t.Fatalf("error %v does not carry the homeserver's %s", err, errcode)
	}
}

// within runs f and fails the test if it does not return within d; what
// names the awaited call in the failure message.
func within[T any](t *testing.T, d time.Duration, what string, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
		var zero T
		return zero
	}
}
