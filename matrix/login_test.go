package matrix

import (
	"errors"
	"maps"
	"net/http"
	"strings"
	"testing"
)

const (
	whoamiPath = "/_matrix/client/v3/account/whoami"
	loginPath  = "/_matrix/client/v3/login"
	loginBody  = `"type":"m.login.password","identifier":{"type":"m.id.user","user":"@bot:hs.test"},` +
		`"password":"pw","initial_device_display_name":"Surfaces bot"`
)

// wantAuthReq is one request of a login, with its Authorization header.
type wantAuthReq struct{ method, path, body, auth string }

// wantAuthRequests checks that got are the requests want, in order, each
// with its Authorization header.
func wantAuthRequests(t *testing.T, got []recorded, want []wantAuthReq) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("homeserver got %d requests, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		wantRequest(t, got[i], w.method, w.path, w.body)
		if got[i].Auth != w.auth {
			t.Fatalf("%s %s sent Authorization %q, want %q", w.method, w.path, got[i].Auth, w.auth)
		}
	}
}

// storedSession is the meta a password login leaves in the store.
func storedSession(user, token, device string) map[string]string {
	return map[string]string{metaSessionUser: user, metaAccessToken: token, metaDeviceID: device}
}

// TestConnectSessions: which session Connect uses (configured token, stored
// session, password login), what it asks the homeserver, what it stores,
// and that later requests carry the session's token.
func TestConnectSessions(t *testing.T) {
	noDevice := func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, `{"user_id":"@bot:hs.test"}`) }
	unknownToken := func(w http.ResponseWriter, _ *http.Request) {
		matrixError(w, 401, "M_UNKNOWN_TOKEN", "Invalid access token passed.")
	}
	tests := []struct {
		name       string
		creds      Credentials
		stored     map[string]string
		whoami     http.HandlerFunc // nil: the user's session on device DEV
		reqs       []wantAuthReq
		wantDevice string
		wantToken  string
		wantStored map[string]string // nil: stored unchanged
		wantQuery  string            // in the query of a request after Connect
	}{
		{
			name:       "configured access token wins over a stored session",
			creds:      Credentials{UserID: botID, AccessToken: "cfg", Password: "pw"},
			stored:     storedSession(botID, "stored", "SDEV"),
			reqs:       []wantAuthReq{{"GET", whoamiPath, "", "Bearer cfg"}},
			wantDevice: "DEV", wantToken: "cfg",
		},
		{
			name:       "configured access token whose whoami has no device id",
			creds:      Credentials{UserID: botID, AccessToken: "cfg", DeviceID: "CFGDEV"},
			whoami:     noDevice,
			reqs:       []wantAuthReq{{"GET", whoamiPath, "", "Bearer cfg"}},
			wantDevice: "CFGDEV", wantToken: "cfg",
		},
		{
			name:       "password login stores the session",
			creds:      Credentials{UserID: botID, Password: "pw"},
			reqs:       []wantAuthReq{{"POST", loginPath, "{" + loginBody + "}", ""}},
			wantDevice: "DEVLOGIN", wantToken: "tok-login",
			wantStored: storedSession(botID, "tok-login", "DEVLOGIN"),
		},
		{
			name:       "password login on the configured device",
			creds:      Credentials{UserID: botID, Password: "pw", DeviceID: "CFGDEV"},
			stored:     storedSession(botID, "", "SDEV"),
			reqs:       []wantAuthReq{{"POST", loginPath, `{"device_id":"CFGDEV",` + loginBody + "}", ""}},
			wantDevice: "DEVLOGIN", wantToken: "tok-login",
			wantStored: storedSession(botID, "tok-login", "DEVLOGIN"),
		},
		{
			name:       "stored session reused",
			creds:      Credentials{UserID: botID, Password: "pw"},
			stored:     storedSession(botID, "stored", "SDEV"),
			reqs:       []wantAuthReq{{"GET", whoamiPath, "", "Bearer stored"}},
			wantDevice: "DEV", wantToken: "stored",
		},
		{
			name:       "stored session whose whoami has no device id keeps the stored device",
			creds:      Credentials{UserID: botID, Password: "pw"},
			stored:     storedSession(botID, "stored", "SDEV"),
			whoami:     noDevice,
			reqs:       []wantAuthReq{{"GET", whoamiPath, "", "Bearer stored"}},
			wantDevice: "SDEV", wantToken: "stored",
		},
		{
			name:   "expired stored session: password login on the stored device",
			creds:  Credentials{UserID: botID, Password: "pw"},
			stored: storedSession(botID, "stored", "SDEV"),
			whoami: unknownToken,
			reqs: []wantAuthReq{
				{"GET", whoamiPath, "", "Bearer stored"},
				{"POST", loginPath, `{"device_id":"SDEV",` + loginBody + "}", ""},
			},
			wantDevice: "DEVLOGIN", wantToken: "tok-login",
			wantStored: storedSession(botID, "tok-login", "DEVLOGIN"),
		},
		{
			name:       "stored session without a token: password login on the stored device",
			creds:      Credentials{UserID: botID, Password: "pw"},
			stored:     storedSession(botID, "", "SDEV"),
			reqs:       []wantAuthReq{{"POST", loginPath, `{"device_id":"SDEV",` + loginBody + "}", ""}},
			wantDevice: "DEVLOGIN", wantToken: "tok-login",
			wantStored: storedSession(botID, "tok-login", "DEVLOGIN"),
		},
		{
			name:   "appservice token without a device: the bot makes one (MSC4190) on the configured id",
			creds:  Credentials{UserID: botID, AccessToken: "as", Appservice: true, NeedDevice: true, DeviceID: "CFGDEV"},
			whoami: noDevice,
			reqs: []wantAuthReq{
				{"GET", whoamiPath, "", "Bearer as"},
				{"PUT", "/_matrix/client/v3/devices/CFGDEV", `{"display_name":"Surfaces bot"}`, "Bearer as"},
			},
			wantDevice: "CFGDEV", wantToken: "as",
			wantStored: map[string]string{metaSessionUser: botID, metaDeviceID: "CFGDEV"},
			wantQuery:  "device_id=CFGDEV",
		},
		{
			name:   "appservice token without a device, restarted: the device made before",
			creds:  Credentials{UserID: botID, AccessToken: "as", Appservice: true, NeedDevice: true},
			stored: map[string]string{metaSessionUser: botID, metaDeviceID: "SURFACESAB"},
			whoami: noDevice,
			reqs: []wantAuthReq{
				{"GET", whoamiPath, "", "Bearer as"},
				{"PUT", "/_matrix/client/v3/devices/SURFACESAB", `{"display_name":"Surfaces bot"}`, "Bearer as"},
			},
			wantDevice: "SURFACESAB", wantToken: "as",
			wantQuery: "device_id=SURFACESAB",
		},
		{
			name:       "appservice token with the homeserver's device (Dendrite): none made",
			creds:      Credentials{UserID: botID, AccessToken: "as", Appservice: true, NeedDevice: true},
			reqs:       []wantAuthReq{{"GET", whoamiPath, "", "Bearer as"}},
			wantDevice: "DEV", wantToken: "as",
		},
		{
			name:       "appservice token without a device and no need of one (encryption off)",
			creds:      Credentials{UserID: botID, AccessToken: "as", Appservice: true},
			whoami:     noDevice,
			reqs:       []wantAuthReq{{"GET", whoamiPath, "", "Bearer as"}},
			wantDevice: "", wantToken: "as",
		},
		{
			// A member of a cluster with grains and encryption: a device
			// of its own, beside the bot's one session and another
			// member's, which it leaves alone.
			name:  "a member's own session: password login, stored under its name",
			creds: Credentials{UserID: botID, Password: "pw", Session: "member-b"},
			stored: map[string]string{metaSessionUser: botID, metaAccessToken: "shared", metaDeviceID: "SHARED",
				metaSessionUser + "/member-a": botID, metaAccessToken + "/member-a": "tok-a", metaDeviceID + "/member-a": "DEVA"},
			reqs:       []wantAuthReq{{"POST", loginPath, strings.Replace("{"+loginBody+"}", `"Surfaces bot"`, `"Surfaces bot (member-b)"`, 1), ""}},
			wantDevice: "DEVLOGIN", wantToken: "tok-login",
			wantStored: map[string]string{metaSessionUser: botID, metaAccessToken: "shared", metaDeviceID: "SHARED",
				metaSessionUser + "/member-a": botID, metaAccessToken + "/member-a": "tok-a", metaDeviceID + "/member-a": "DEVA",
				metaSessionUser + "/member-b": botID, metaAccessToken + "/member-b": "tok-login", metaDeviceID + "/member-b": "DEVLOGIN"},
		},
		{
			name:  "a member's own stored session reused, not the bot's one",
			creds: Credentials{UserID: botID, Password: "pw", Session: "member-a"},
			stored: map[string]string{metaSessionUser: botID, metaAccessToken: "shared", metaDeviceID: "SHARED",
				metaSessionUser + "/member-a": botID, metaAccessToken + "/member-a": "tok-a", metaDeviceID + "/member-a": "DEVA"},
			reqs:       []wantAuthReq{{"GET", whoamiPath, "", "Bearer tok-a"}},
			wantDevice: "DEV", wantToken: "tok-a",
		},
		{
			name:       "another user's stored session is not used",
			creds:      Credentials{UserID: botID, Password: "pw"},
			stored:     storedSession("@other:hs.test", "stored", "SDEV"),
			reqs:       []wantAuthReq{{"POST", loginPath, "{" + loginBody + "}", ""}},
			wantDevice: "DEVLOGIN", wantToken: "tok-login",
			wantStored: storedSession(botID, "tok-login", "DEVLOGIN"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			if tc.whoami != nil {
				hs.handle(t, routeWhoami, tc.whoami)
			}
			store := newMemState()
			maps.Copy(store.meta, tc.stored)
			tc.creds.Homeserver = hs.URL
			c, err := Connect(testContext(t), tc.creds, store)
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			wantAuthRequests(t, hs.requests(), tc.reqs)
			if c.UserID() != botID || c.DeviceID() != tc.wantDevice {
				t.Fatalf("session %s on %s, want %s on %s", c.UserID(), c.DeviceID(), botID, tc.wantDevice)
			}
			wantStored := tc.wantStored
			if wantStored == nil {
				wantStored = tc.stored
			}
			if !maps.Equal(store.meta, wantStored) {
				t.Fatalf("stored session %v, want %v", store.meta, wantStored)
			}
			// The session's token is what later requests carry.
			if err := c.JoinRoom(testContext(t), "!r:hs.test"); err != nil {
				t.Fatal(err)
			}
			reqs := hs.requests()
			if got := reqs[len(reqs)-1].Auth; got != "Bearer "+tc.wantToken {
				t.Fatalf("a request after Connect sent Authorization %q, want the session's %q", got, tc.wantToken)
			}
			if got := reqs[len(reqs)-1].Query; !strings.Contains(got, tc.wantQuery) || (tc.wantQuery == "" && strings.Contains(got, "device_id")) {
				t.Fatalf("a request after Connect had the query %q, want %q in it", got, tc.wantQuery)
			}
		})
	}
}

// A homeserver that made no device for the appservice and refuses to make
// one (no MSC4190) stops the start with a line that says what to do.
func TestConnectAppserviceDeviceRefused(t *testing.T) {
	hs := newTestHomeserver(t)
	hs.handle(t, routeWhoami, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, `{"user_id":"@bot:hs.test"}`) })
	hs.handle(t, routePutDevice, func(w http.ResponseWriter, _ *http.Request) {
		matrixError(w, 404, "M_NOT_FOUND", "Unknown device")
	})
	_, err := Connect(testContext(t), Credentials{Homeserver: hs.URL, UserID: botID, AccessToken: "as", Appservice: true, NeedDevice: true}, newMemState())
	if !errors.Is(err, ErrLogin) || !strings.Contains(err.Error(), "MSC4190") || !strings.Contains(err.Error(), "matrix.encryption: off") {
		t.Fatalf("Connect: %v; want ErrLogin naming MSC4190 and encryption off", err)
	}
}
