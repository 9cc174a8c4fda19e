package matrix

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"maunium.net/go/mautrix/id"
)

// What a homeserver pushes for the crypto machine in a transaction
// (MSC2409, MSC3202, under their stable or unstable names) reaches it for
// the bot's device only, before the transaction's room events: a to-device
// event, a device-list change (the machine asks for the user's keys) and a
// low one-time key count (it uploads more). A transaction without a count
// for the bot's device uploads nothing.
func TestAppserviceTransactionKeysReachTheCryptoMachine(t *testing.T) {
	for _, tc := range []struct {
		name                          string
		toDevice, deviceLists, counts string
	}{
		{"stable names", "to_device", "device_lists", "device_one_time_keys_count"},
		{"unstable names", "de.sorunome.msc2409.to_device", "org.matrix.msc3202.device_lists", "org.matrix.msc3202.device_one_time_keys_count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			hs := newTestHomeserver(t)
			c := hs.connect(t) // the bot's device is DEV
			if err := c.EnableCrypto(ctx, CryptoOptions{Policy: "allowed", Path: filepath.Join(t.TempDir(), "crypto.db"), PickleKey: "pickle"}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.crypto.db.Close() })
			// The bot tracks Alice's devices, as it does once they share an
			// encrypted room: a change to them is worth a query.
			hs.handle(t, routeKeysQuery, func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, http.StatusOK, `{"device_keys":{"@alice:hs.test":{}}}`)
			})
			if _, err := c.crypto.mach.FetchKeys(ctx, []id.UserID{"@alice:hs.test"}, true); err != nil {
				t.Fatal(err)
			}
			hs.reset()

			// Whether the bot's withheld notice was in the crypto store
			// when the message reached the actors.
			var (
				mu            sync.Mutex
				keyBeforeText []bool
			)
			as := c.Appservice(ctx, func(m any) {
				mu.Lock()
				defer mu.Unlock()
				keyBeforeText = append(keyBeforeText, withheld(ctx, t, c, "s-bot"))
				if ack := ackOf(m); ack != nil {
					ack.Done()
				}
			}, AppserviceOptions{HSToken: hsToken})
			srv := httptest.NewServer(as.Handler())
			t.Cleanup(srv.Close)
			t.Cleanup(as.Close)
			r := &asRig{srv: srv}

			toDevice := func(device, session string) string {
				return fmt.Sprintf(`{"type":"m.room_key.withheld","sender":"@alice:hs.test","to_user_id":%q,"to_device_id":%q,`+
					`"content":{"algorithm":"m.megolm.v1.aes-sha2","room_id":"!r:hs.test","session_id":%q,"sender_key":"alicekey","code":"m.unverified","reason":"test"}}`,
					botID, device, session)
			}
			body := fmt.Sprintf(`{"events":[%s],%q:[%s,%s],%q:{"changed":["@alice:hs.test"]},%q:{%q:{"DEV":{"signed_curve25519":0},"OTHER":{"signed_curve25519":0}}}}`,
				textEvent("$a", "@alice:hs.test", "hello"),
				tc.toDevice, toDevice("DEV", "s-bot"), toDevice("OTHER", "s-other"),
				tc.deviceLists, tc.counts, botID)
			if code, errcode := r.put(t, "/_matrix/app/v1/transactions/1", hsToken, strings.NewReader(body)); code != 200 {
				t.Fatalf("transaction answered %d %s", code, errcode)
			}

			if !withheld(ctx, t, c, "s-bot") {
				t.Error("the to-device event for the bot's device did not reach the crypto machine")
			}
			if withheld(ctx, t, c, "s-other") {
				t.Error("a to-device event for another device of the appservice was taken as the bot's")
			}
			mu.Lock()
			if len(keyBeforeText) != 1 || !keyBeforeText[0] {
				t.Errorf("when the message reached the actors the key was there: %v, want [true]", keyBeforeText)
			}
			mu.Unlock()
			if q := requestsTo(hs, "/_matrix/client/v3/keys/query"); len(q) != 1 || !strings.Contains(string(q[0].Body), "@alice:hs.test") {
				t.Errorf("key queries %v, want one for the user whose devices changed", q)
			}
			if up := requestsTo(hs, "/_matrix/client/v3/keys/upload"); len(up) != 1 {
				t.Errorf("%d key uploads, want 1 for the bot's device's empty count", len(up))
			}

			hs.reset()
			body = fmt.Sprintf(`{"events":[%s],%q:{%q:{"OTHER":{"signed_curve25519":0}}}}`, textEvent("$b", "@alice:hs.test", "again"), tc.counts, botID)
			if code, errcode := r.put(t, "/_matrix/app/v1/transactions/2", hsToken, strings.NewReader(body)); code != 200 {
				t.Fatalf("transaction answered %d %s", code, errcode)
			}
			if up := requestsTo(hs, "/_matrix/client/v3/keys/upload"); len(up) != 0 {
				t.Errorf("%d key uploads for a transaction without the bot's count, want none", len(up))
			}
		})
	}
}

// withheld reports whether the crypto store holds the withheld notice of
// session in the test's room.
func withheld(ctx context.Context, t *testing.T, c *Client, session string) bool {
	t.Helper()
	got, err := c.crypto.mach.CryptoStore.GetWithheldGroupSession(ctx, "!r:hs.test", id.SessionID(session))
	if err != nil {
		t.Fatal(err)
	}
	return got != nil
}

// requestsTo are the requests the fake homeserver received on path.
func requestsTo(hs *testHomeserver, path string) []recorded {
	var out []recorded
	for _, r := range hs.requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}
