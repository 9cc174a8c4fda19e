package matrix

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"strings"
	"testing"
)

func (m *memState) DeleteMeta(_ context.Context, k string) error { delete(m.meta, k); return nil }

// TestRetireMember: what RetireMember asks the homeserver and leaves of a
// member's stored session (its crypto store: test/e2e
// TestClusterGrainsEncrypted).
func TestRetireMember(t *testing.T) {
	memberB := map[string]string{
		metaSessionUser + "/member-b": botID, metaAccessToken + "/member-b": "tok-b", metaDeviceID + "/member-b": "DEVB",
	}
	// The bot's own session and another member's stay.
	others := map[string]string{
		metaSessionUser: botID, metaAccessToken: "shared", metaDeviceID: "SHARED",
		metaSessionUser + "/member-a": botID, metaAccessToken + "/member-a": "tok-a", metaDeviceID + "/member-a": "DEVA",
	}
	withB := maps.Clone(others)
	maps.Copy(withB, memberB)
	login := `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"@bot:hs.test"},"password":"pw",` +
		`"device_id":"DEVB","initial_device_display_name":"Surfaces bot (member-b)"}`
	deleteWithAuth := `{"auth":{"type":"m.login.password","session":"uia-1","identifier":{"type":"m.id.user","user":"@bot:hs.test"},"password":"pw"}}`
	notFound := func(w http.ResponseWriter, _ *http.Request) {
		matrixError(w, http.StatusNotFound, "M_NOT_FOUND", "Unknown device")
	}
	tests := []struct {
		name       string
		password   string
		stored     map[string]string
		deleteFunc http.HandlerFunc // nil: authentication asked for, then accepted
		reqs       []wantAuthReq
		want       Retired
		wantErr    string
		wantStored map[string]string
	}{
		{
			name: "the device deleted with the password", password: "pw", stored: withB,
			reqs: []wantAuthReq{
				{"POST", loginPath, login, ""},
				{"DELETE", "/_matrix/client/v3/devices/DEVB", `{}`, "Bearer tok-login"},
				{"DELETE", "/_matrix/client/v3/devices/DEVB", deleteWithAuth, "Bearer tok-login"},
			},
			want: Retired{Found: true, DeviceID: "DEVB"}, wantStored: others,
		},
		{
			name: "a device deleted already", password: "pw", stored: withB, deleteFunc: notFound,
			reqs: []wantAuthReq{
				{"POST", loginPath, login, ""},
				{"DELETE", "/_matrix/client/v3/devices/DEVB", `{}`, "Bearer tok-login"},
			},
			want: Retired{Found: true, DeviceID: "DEVB"}, wantStored: others,
		},
		{
			name: "no session stored: nothing asked", password: "pw", stored: others,
			want: Retired{}, wantStored: others,
		},
		{
			name: "no password: nothing deleted", stored: withB,
			wantErr: "needs matrix.password", wantStored: withB,
		},
		{
			name: "another user's device: nothing deleted", password: "pw",
			stored:  map[string]string{metaSessionUser + "/member-b": "@old:hs.test", metaDeviceID + "/member-b": "DEVB"},
			wantErr: "is @old:hs.test's", wantStored: map[string]string{metaSessionUser + "/member-b": "@old:hs.test", metaDeviceID + "/member-b": "DEVB"},
		},
		{
			name: "refused without a session to answer: nothing else deleted", password: "pw", stored: withB,
			deleteFunc: func(w http.ResponseWriter, _ *http.Request) {
				matrixError(w, http.StatusUnauthorized, "M_FORBIDDEN", "no")
			},
			reqs: []wantAuthReq{
				{"POST", loginPath, login, ""},
				{"DELETE", "/_matrix/client/v3/devices/DEVB", `{}`, "Bearer tok-login"},
			},
			wantErr: "asked for no authentication", wantStored: withB,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			if tc.deleteFunc != nil {
				hs.handle(t, routeDeleteDevice, tc.deleteFunc)
			}
			store := newMemState()
			maps.Copy(store.meta, tc.stored)
			got, err := RetireMember(testContext(t), store, RetireOptions{
				Creds:  Credentials{Homeserver: hs.URL, UserID: botID, Password: tc.password},
				Member: "member-b",
			})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("RetireMember: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("RetireMember: %v, want an error saying %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "pw"):
				t.Fatalf("the error shows the password: %v", err)
			}
			if tc.wantErr == "" && got != tc.want {
				t.Fatalf("RetireMember = %+v, want %+v", got, tc.want)
			}
			wantAuthRequests(t, hs.requests(), tc.reqs)
			if !maps.Equal(store.meta, tc.wantStored) {
				t.Fatalf("stored %v, want %v", store.meta, tc.wantStored)
			}
		})
	}
	if _, err := RetireMember(testContext(t), newMemState(), RetireOptions{}); err == nil || errors.Is(err, ErrLogin) {
		t.Fatalf("no member: %v, want an error naming it", err)
	}
}
