package matrix

import (
	"net/http"
	"testing"
)

const masterRulePath = "/_matrix/client/v3/pushrules/global/override/.m.rule.master/enabled"

// TestSilenceOwnNotifications: the bot's master push rule is read, and
// enabled only where it is off; a homeserver's refusal is an error that
// says what failed.
func TestSilenceOwnNotifications(t *testing.T) {
	tests := []struct {
		name string
		// enabled is what the homeserver answers for the rule; getErr and
		// putErr make it refuse the read or the write instead.
		enabled        string
		getErr, putErr bool
		wantPut        bool
		wantErr        string
	}{
		{name: "a new account's rule is enabled", enabled: `{"enabled":false}`, wantPut: true},
		{name: "a rule already enabled is left alone", enabled: `{"enabled":true}`},
		{name: "a refused read", getErr: true, wantErr: "failed to read the bot's master push rule"},
		{name: "a refused write", enabled: `{"enabled":false}`, putErr: true, wantPut: true, wantErr: "failed to enable the bot's master push rule"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			hs.handle(t, routeGetPushRule, func(w http.ResponseWriter, _ *http.Request) {
				if tc.getErr {
					matrixError(w, http.StatusNotFound, "M_NOT_FOUND", "no such rule")
					return
				}
				writeJSON(w, http.StatusOK, tc.enabled)
			})
			if tc.putErr {
				hs.handle(t, routePutPushRule, func(w http.ResponseWriter, _ *http.Request) {
					matrixError(w, http.StatusForbidden, "M_FORBIDDEN", "no")
				})
			}
			err := c.SilenceOwnNotifications(testContext(t))
			if tc.wantErr != "" {
				assertMatrixError(t, err, tc.wantErr, map[bool]string{true: "M_NOT_FOUND", false: "M_FORBIDDEN"}[tc.getErr])
			} else if err != nil {
				t.Fatalf("SilenceOwnNotifications: %v", err)
			}
			reqs := hs.requests()
			want := 1
			if tc.wantPut {
				want = 2
			}
			if len(reqs) != want {
				t.Fatalf("homeserver got %d requests, want %d: %v", len(reqs), want, reqs)
			}
			wantRequest(t, reqs[0], "GET", masterRulePath, "")
			if tc.wantPut {
				wantRequest(t, reqs[1], "PUT", masterRulePath, `{"enabled":true}`)
			}
		})
	}
}
