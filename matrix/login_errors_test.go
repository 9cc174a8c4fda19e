package matrix

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"github.com/surfaces-bot/surfaces/actors"
)

// TestConnectErrors: how a failed start-up is reported. Start-up makes one
// attempt per request: a gateway error that would otherwise be retried is
// reported at once.
func TestConnectErrors(t *testing.T) {
	answer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "0")
			writeJSON(w, status, body)
		}
	}
	token := Credentials{UserID: botID, AccessToken: "tok"}
	password := Credentials{UserID: botID, Password: "pw"}
	tests := []struct {
		name    string
		creds   Credentials
		stored  map[string]string
		whoami  http.HandlerFunc
		login   http.HandlerFunc
		wantErr []error  // all must be wrapped
		wantMsg []string // all must be in the message
		reqs    []string // paths requested, in order
	}{
		{
			name: "revoked access token", creds: token,
			whoami:  answer(401, `{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token passed."}`),
			wantErr: []error{ErrLogin, mautrix.MUnknownToken},
			wantMsg: []string{"as @bot:hs.test on http://127.0.0.1:", "M_UNKNOWN_TOKEN Invalid access token passed."},
			reqs:    []string{whoamiPath},
		},
		{
			name: "access token of another user", creds: token,
			whoami:  answer(200, `{"user_id":"@other:hs.test","device_id":"D"}`),
			wantErr: []error{ErrLogin},
			wantMsg: []string{"the access token belongs to @other:hs.test, configured @bot:hs.test"},
			reqs:    []string{whoamiPath},
		},
		{
			name: "gateway error at start-up is not retried", creds: token,
			whoami:  answer(502, `<html>Bad Gateway</html>`),
			wantErr: []error{ErrLogin},
			wantMsg: []string{"HTTP 502"},
			reqs:    []string{whoamiPath},
		},
		{
			name: "wrong password", creds: password,
			login:   answer(403, `{"errcode":"M_FORBIDDEN","error":"Invalid username or password"}`),
			wantErr: []error{ErrLogin, mautrix.MForbidden},
			wantMsg: []string{"M_FORBIDDEN Invalid username or password"},
			reqs:    []string{loginPath},
		},
		{
			name: "login answered for another user", creds: password,
			login:   answer(200, `{"user_id":"@other:hs.test","access_token":"t","device_id":"D"}`),
			wantErr: []error{ErrLogin},
			wantMsg: []string{"logged in as @other:hs.test, configured @bot:hs.test"},
			reqs:    []string{loginPath},
		},
		{
			name: "stored session refused for another reason: no password login", creds: password,
			stored:  storedSession(botID, "stored", "SDEV"),
			whoami:  answer(403, `{"errcode":"M_FORBIDDEN","error":"User is deactivated"}`),
			wantErr: []error{ErrLogin, mautrix.MForbidden},
			wantMsg: []string{"User is deactivated"},
			reqs:    []string{whoamiPath},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			if tc.whoami != nil {
				hs.handle(t, routeWhoami, tc.whoami)
			}
			if tc.login != nil {
				hs.handle(t, routeLogin, tc.login)
			}
			store := newMemState()
			maps.Copy(store.meta, tc.stored)
			tc.creds.Homeserver = hs.URL
			c, err := Connect(testContext(t), tc.creds, store)
			if err == nil || c != nil {
				t.Fatalf("Connect returned %v, %v; want an error", c, err)
			}
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Fatalf("error %q does not wrap %v", err, want)
				}
			}
			if errors.Is(err, ErrUnreachable) {
				t.Fatalf("error %q says unreachable", err)
			}
			for _, want := range tc.wantMsg {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not say %q", err, want)
				}
			}
			var paths []string
			for _, r := range hs.requests() {
				paths = append(paths, r.Path)
			}
			if fmt.Sprint(paths) != fmt.Sprint(tc.reqs) {
				t.Fatalf("requests %v, want %v", paths, tc.reqs)
			}
			if !maps.Equal(store.meta, tc.stored) {
				t.Fatalf("stored session changed to %v", store.meta)
			}
		})
	}
}

// TestConnectInvalidURL: a homeserver URL without a host is refused before
// any request.
func TestConnectInvalidURL(t *testing.T) {
	for _, hs := range []string{"", "hs.test", "://hs.test", "http://"} {
		t.Run(hs, func(t *testing.T) {
			_, err := Connect(testContext(t), Credentials{Homeserver: hs, UserID: botID, AccessToken: "tok"}, newMemState())
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("invalid homeserver URL %q", hs)) {
				t.Fatalf("error %v, want one naming the invalid URL", err)
			}
		})
	}
}

// faultyState is a memState whose meta reads or writes fail.
type faultyState struct {
	*memState
	getErr, putErr error
}

func (f faultyState) GetMeta(ctx context.Context, k string) (string, error) {
	if f.getErr != nil {
		return "", f.getErr
	}
	return f.memState.GetMeta(ctx, k)
}

func (f faultyState) PutMeta(ctx context.Context, k, v string) error {
	if f.putErr != nil {
		return f.putErr
	}
	return f.memState.PutMeta(ctx, k, v)
}

// TestConnectStoreErrors: a missing session is no error; a store that
// cannot read or write the session stops the start-up.
func TestConnectStoreErrors(t *testing.T) {
	broken := errors.New("disk on fire")
	tests := []struct {
		name            string
		getErr, putErr  error
		wantErr         error // nil: Connect succeeds
		wantMsg         string
		wantLoginCalled bool
	}{
		{"session not found", fmt.Errorf("meta: %w", actors.ErrNotFound), nil, nil, "", true},
		{"session unreadable", broken, nil, broken, "failed to read the stored Matrix session", false},
		{"session not writable", nil, broken, broken, "failed to store the Matrix session", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			store := faultyState{memState: newMemState(), getErr: tc.getErr, putErr: tc.putErr}
			_, err := Connect(testContext(t), Credentials{Homeserver: hs.URL, UserID: botID, Password: "pw"}, store)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("Connect: %v", err)
			}
			if tc.wantErr != nil && (!errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg)) {
				t.Fatalf("error %v, want %q wrapping %v", err, tc.wantMsg, tc.wantErr)
			}
			if called := len(hs.requests()) == 1; called != tc.wantLoginCalled {
				t.Fatalf("requests %v, want a password login: %v", hs.requests(), tc.wantLoginCalled)
			}
		})
	}
}

// closedPort returns the URL of a port on 127.0.0.1 nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return url
}

// TestConnectUnreachable: start-up against a homeserver that is not there
// fails with an error naming the URL and the cause (that start-up makes one
// attempt only is checked in TestConnectErrors).
func TestConnectUnreachable(t *testing.T) {
	tests := []struct {
		name  string
		creds Credentials
	}{
		{"access token", Credentials{UserID: botID, AccessToken: "tok"}},
		{"password", Credentials{UserID: botID, Password: "pw"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.creds.Homeserver = closedPort(t)
			ctx := testContext(t)
			err := within(t, 30*time.Second, "Connect to a closed port", func() error {
				_, err := Connect(ctx, tc.creds, newMemState())
				return err
			})
			if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrLogin) {
				t.Fatalf("error %v, want one wrapping ErrUnreachable (and not ErrLogin)", err)
			}
			if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), tc.creds.Homeserver) {
				t.Fatalf("error %q does not name the URL and the refused connection", err)
			}
		})
	}
}
