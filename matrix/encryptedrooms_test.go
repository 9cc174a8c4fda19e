package matrix

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/event"
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
			states, raw := newTestRoomStates(t, c)
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

// newTestRoomStates gives c's client a roomStates over a real SQL state
// store in a temp crypto database; raw is that store without the wrapper.
func newTestRoomStates(t *testing.T, c *Client) (states *roomStates, raw *sqlstatestore.SQLStateStore) {
	t.Helper()
	db, err := openCryptoDB(filepath.Join(t.TempDir(), "crypto.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	raw = sqlstatestore.NewSQLStateStore(db, dbutil.NoopLogger, false)
	if err := raw.Upgrade(testContext(t)); err != nil {
		t.Fatal(err)
	}
	states = &roomStates{SQLStateStore: raw, cli: c.cli}
	c.cli.StateStore = states
	return states, raw
}

// TestMembersKeepWhatTheHomeserverListsLate: the member list the room key
// goes to keeps the joins and invites the bot knew of (the invitees of a
// chat it created) when the homeserver's /members does not mention them
// yet, as a busy Dendrite's sync API does not right after createRoom; a
// member the list does mention is taken as it says.
func TestMembersKeepWhatTheHomeserverListsLate(t *testing.T) {
	const room = id.RoomID("!chat:hs.test")
	member := func(user, membership string) string {
		return fmt.Sprintf(`{"type":"m.room.member","room_id":%q,"event_id":"$%s","sender":%q,"state_key":%q,"origin_server_ts":1,"content":{"membership":%q}}`,
			room, strings.TrimPrefix(user, "@"), user, user, membership)
	}
	tests := []struct {
		name  string
		chunk []string
		want  []id.UserID
	}{
		{"the list lags the invite", []string{member(botID, "join")}, []id.UserID{botID, "@alice:hs.test"}},
		{"the list has it", []string{member(botID, "join"), member("@alice:hs.test", "invite")}, []id.UserID{botID, "@alice:hs.test"}},
		{"alice left since", []string{member(botID, "join"), member("@alice:hs.test", "leave")}, []id.UserID{botID}},
		{"someone new", []string{member(botID, "join"), member("@bob:hs.test", "join")}, []id.UserID{botID, "@alice:hs.test", "@bob:hs.test"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			states, _ := newTestRoomStates(t, c)
			// What mautrix records when the bot creates the chat.
			ctx := testContext(t)
			if err := states.SetMembership(ctx, room, botID, event.MembershipJoin); err != nil {
				t.Fatal(err)
			}
			if err := states.SetMembership(ctx, room, "@alice:hs.test", event.MembershipInvite); err != nil {
				t.Fatal(err)
			}
			hs.handle(t, routeMembers, func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, http.StatusOK, `{"chunk":[`+strings.Join(tc.chunk, ",")+`]}`)
			})
			cs := &cryptoState{cli: c.cli, state: states, fetched: map[id.RoomID]bool{}}
			got, err := cs.members(ctx, room)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("the room key would go to %v, want %v", got, want)
			}
		})
	}
}
