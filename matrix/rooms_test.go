package matrix

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event/cmdschema"

	"github.com/surfaces-bot/surfaces/actors"
)

// wantReq is one request a call must make, in order.
type wantReq struct{ method, path, body string }

// TestRoomsRequests: what each MatrixRooms method puts on the wire.
func TestRoomsRequests(t *testing.T) {
	const (
		v3    = "/_matrix/client/v3"
		space = "/_matrix/client/v3/rooms/!space:hs.test"
	)
	tests := []struct {
		name   string
		call   func(ctx context.Context, c *Client) (string, error)
		wantID string
		reqs   []wantReq
	}{
		{
			name: "JoinRoom",
			call: func(ctx context.Context, c *Client) (string, error) { return "", c.JoinRoom(ctx, "!r:hs.test") },
			reqs: []wantReq{{"POST", roomPath + "/join", `{}`}},
		},
		{
			name: "RejectInvite leaves with the reason",
			call: func(ctx context.Context, c *Client) (string, error) {
				return "", c.RejectInvite(ctx, "!r:hs.test", "not allowed")
			},
			reqs: []wantReq{{"POST", roomPath + "/leave", `{"reason":"not allowed"}`}},
		},
		{
			name: "LeaveRoom",
			call: func(ctx context.Context, c *Client) (string, error) { return "", c.LeaveRoom(ctx, "!r:hs.test") },
			reqs: []wantReq{{"POST", roomPath + "/leave", `{}`}},
		},
		{
			name: "ForgetRoom",
			call: func(ctx context.Context, c *Client) (string, error) { return "", c.ForgetRoom(ctx, "!r:hs.test") },
			reqs: []wantReq{{"POST", roomPath + "/forget", `{}`}},
		},
		{
			name: "CreateSpace is an m.space only the bot may change",
			call: func(ctx context.Context, c *Client) (string, error) {
				return c.CreateSpace(ctx, "Alice's agents", []string{"@alice:hs.test", "@bob:hs.test"},
					actors.SpaceState{Owner: "@alice:hs.test", EntryRoomID: "!dm:hs.test", AgentID: "a0", ChatCounter: 1, UpdatedAt: stamp})
			},
			wantID: "!new:hs.test",
			reqs: []wantReq{{"POST", v3 + "/createRoom", `{"name":"Alice's agents","preset":"private_chat",
				"invite":["@alice:hs.test","@bob:hs.test"],"creation_content":{"type":"m.space"},
				"initial_state":[{"type":"org.surfaces.space","state_key":"","content":{"owner":"@alice:hs.test",
					"entry_room_id":"!dm:hs.test","agent_id":"a0","chat_counter":1,"updated_at":"2026-11-30T08:00:00Z"}}],
				"power_level_content_override":{"users":{"@bot:hs.test":100},"events_default":50,"events":` + botOnly + `}}`}},
		},
		{
			name: "CreateChatRoom links the room and the Space both ways",
			call: func(ctx context.Context, c *Client) (string, error) {
				return c.CreateChatRoom(ctx, "!space:hs.test", "Chat 1", []string{"@alice:hs.test"},
					actors.ChatState{Owner: "@alice:hs.test", SpaceID: "!space:hs.test", ChatIndex: 1, Name: "Chat 1",
						PlatformChatID: "7", AgentID: "a0", UpdatedAt: stamp},
					[]actors.CommandDescription{{Command: "stop", Description: "stop the reply"}})
			},
			wantID: "!new:hs.test",
			reqs: []wantReq{
				{"POST", v3 + "/createRoom", `{"name":"Chat 1","preset":"private_chat","invite":["@alice:hs.test"],
					"initial_state":[{"type":"m.space.parent","state_key":"!space:hs.test",
						"content":{"via":["hs.test"],"canonical":true}},
						{"type":"org.surfaces.chat","state_key":"","content":{"owner":"@alice:hs.test","space_id":"!space:hs.test",
						"chat_index":1,"name":"Chat 1","platform_chat_id":"7","agent_id":"a0","updated_at":"2026-11-30T08:00:00Z"}},
						{"type":"org.matrix.msc4391.command_description","state_key":"` + stopKey + `",
						"content":{"command":"stop","description":{"m.text":[{"mimetype":"text/plain","body":"stop the reply"}]}}}],
					"power_level_content_override":{"users":{"@bot:hs.test":100},"events":` + botOnly + `}}`},
				{"PUT", space + "/state/m.space.child/!new:hs.test", `{"via":["hs.test"]}`},
			},
		},
		{
			name: "Invite",
			call: func(ctx context.Context, c *Client) (string, error) {
				return "", c.Invite(ctx, "!r:hs.test", "@alice:hs.test")
			},
			reqs: []wantReq{{"POST", roomPath + "/invite", `{"user_id":"@alice:hs.test"}`}},
		},
		{
			name: "SetRoomName",
			call: func(ctx context.Context, c *Client) (string, error) {
				return "", c.SetRoomName(ctx, "!r:hs.test", "Chat 2")
			},
			reqs: []wantReq{{"PUT", roomPath + "/state/m.room.name/", `{"name":"Chat 2"}`}},
		},
		{
			name: "RemoveFromSpace empties the m.space.child event",
			call: func(ctx context.Context, c *Client) (string, error) {
				return "", c.RemoveFromSpace(ctx, "!space:hs.test", "!r:hs.test")
			},
			reqs: []wantReq{{"PUT", space + "/state/m.space.child/!r:hs.test", `{}`}},
		},
		{
			name:   "DisplayName",
			call:   func(ctx context.Context, c *Client) (string, error) { return c.DisplayName(ctx, "@alice:hs.test") },
			wantID: "Alice",
			reqs:   []wantReq{{"GET", v3 + "/profile/@alice:hs.test/displayname", ""}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			got, err := tc.call(testContext(t), c)
			if err != nil {
				t.Fatalf("call failed: %v", err)
			}
			if got != tc.wantID {
				t.Fatalf("returned %q, want %q", got, tc.wantID)
			}
			reqs := hs.requests()
			if len(reqs) != len(tc.reqs) {
				t.Fatalf("homeserver got %d requests, want %d: %v", len(reqs), len(tc.reqs), reqs)
			}
			for i, w := range tc.reqs {
				wantRequest(t, reqs[i], w.method, w.path, w.body)
			}
		})
	}
}

// TestDisplayNameUnset: without a display name the user id stands in; a
// failed lookup also returns the user id, with the error.
func TestDisplayNameUnset(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr error
	}{
		{"no displayname field", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, `{}`) }, nil},
		{"empty displayname", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, `{"displayname":""}`) }, nil},
		{"unknown user", func(w http.ResponseWriter, _ *http.Request) {
			matrixError(w, 404, "M_NOT_FOUND", "Profile was not found")
		}, mautrix.MNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			hs.handle(t, routeGetDisplayName, tc.handler)
			name, err := c.DisplayName(testContext(t), "@alice:hs.test")
			if name != "@alice:hs.test" {
				t.Fatalf("name %q, want the user id", name)
			}
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestRoomsErrors: a refused request says what failed and keeps the
// homeserver's error.
func TestRoomsErrors(t *testing.T) {
	tests := []struct {
		name, wantMsg string
		call          func(ctx context.Context, c *Client) error
	}{
		{"JoinRoom", "failed to join !r:hs.test", func(ctx context.Context, c *Client) error {
			return c.JoinRoom(ctx, "!r:hs.test")
		}},
		{"RejectInvite", "failed to decline the invite to !r:hs.test", func(ctx context.Context, c *Client) error {
			return c.RejectInvite(ctx, "!r:hs.test", "no")
		}},
		{"LeaveRoom", "failed to leave !r:hs.test", func(ctx context.Context, c *Client) error {
			return c.LeaveRoom(ctx, "!r:hs.test")
		}},
		{"ForgetRoom", "failed to forget !r:hs.test", func(ctx context.Context, c *Client) error {
			return c.ForgetRoom(ctx, "!r:hs.test")
		}},
		{"CreateSpace", `failed to create Space "S"`, func(ctx context.Context, c *Client) error {
			_, err := c.CreateSpace(ctx, "S", nil, actors.SpaceState{})
			return err
		}},
		{"CreateChatRoom", `failed to create room "C"`, func(ctx context.Context, c *Client) error {
			_, err := c.CreateChatRoom(ctx, "!space:hs.test", "C", nil, actors.ChatState{}, nil)
			return err
		}},
		{"Invite", "failed to invite @alice:hs.test to !r:hs.test", func(ctx context.Context, c *Client) error {
			return c.Invite(ctx, "!r:hs.test", "@alice:hs.test")
		}},
		{"SetRoomName", "failed to rename !r:hs.test", func(ctx context.Context, c *Client) error {
			return c.SetRoomName(ctx, "!r:hs.test", "N")
		}},
		{"RemoveFromSpace", "failed to remove !r:hs.test from Space !space:hs.test", func(ctx context.Context, c *Client) error {
			return c.RemoveFromSpace(ctx, "!space:hs.test", "!r:hs.test")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			hs.failAll(t, 403, "M_FORBIDDEN")
			assertMatrixError(t, tc.call(testContext(t), c), tc.wantMsg, "M_FORBIDDEN")
		})
	}
}

// TestCreateChatRoomChildFails: when the Space refuses the m.space.child the
// new room's id still comes back, so the caller can record or retry it.
func TestCreateChatRoomChildFails(t *testing.T) {
	hs := newTestHomeserver(t)
	c := hs.connect(t)
	hs.handle(t, routeState, func(w http.ResponseWriter, _ *http.Request) {
		matrixError(w, 403, "M_FORBIDDEN", "not in the Space")
	})
	roomID, err := c.CreateChatRoom(testContext(t), "!space:hs.test", "Chat", nil, actors.ChatState{}, nil)
	assertMatrixError(t, err, "failed to add !new:hs.test to Space !space:hs.test", "M_FORBIDDEN")
	if roomID != "!new:hs.test" {
		t.Fatalf("room id %q, want the created room's", roomID)
	}
	if reqs := hs.requests(); len(reqs) != 2 {
		t.Fatalf("homeserver got %d requests, want createRoom and the child state: %v", len(reqs), reqs)
	}
}

// TestSetCommands: one MSC4391 state event per command, keyed by the hash of
// the command and the bot's id, the last parameter taking the rest.
func TestSetCommands(t *testing.T) {
	hs := newTestHomeserver(t)
	c := hs.connect(t)
	err := c.SetCommands(testContext(t), "!r:hs.test", []actors.CommandDescription{
		{Command: "stop", Description: "stop the reply"},
		{Command: "rename", Description: "rename this chat", Params: []actors.CommandParam{{Key: "name", Description: "name"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	reqs := hs.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want one state event per command: %v", len(reqs), reqs)
	}
	for _, r := range reqs {
		if r.Method != "PUT" || !strings.Contains(r.Path, "/state/org.matrix.msc4391.command_description/") {
			t.Fatalf("request %s %s, want an MSC4391 state event", r.Method, r.Path)
		}
	}
	if !strings.Contains(string(reqs[1].Body), `"fi.mau.tail_parameter":"name"`) || !strings.Contains(string(reqs[0].Body), `"command":"stop"`) {
		t.Fatalf("bodies %s / %s", reqs[0].Body, reqs[1].Body)
	}
}

// stamp is the UpdatedAt of the state events in the request tables.
var stamp = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

// botOnly is the power levels' events map of the rooms the bot creates.
const botOnly = `{"org.surfaces.chat":100,"org.surfaces.space":100,"m.room.power_levels":100,
	"m.room.history_visibility":100,"m.room.encryption":100,"m.room.tombstone":100,"m.room.server_acl":100}`

// stopKey is the MSC4391 state key of the bot's !stop description.
var stopKey = (&cmdschema.EventContent{Command: "stop"}).StateKey("@bot:hs.test")

// TestInviteOfAMemberIsNoError: a homeserver refusing to invite a user who
// is in the room already (Dendrite's and Synapse's words) is what Invite
// wanted; any other refusal is an error.
func TestInviteOfAMemberIsNoError(t *testing.T) {
	tests := []struct {
		name, errcode, message string
		wantErr                bool
	}{
		{"Dendrite", "M_FORBIDDEN", "user is already joined to room", false},
		{"Synapse", "M_FORBIDDEN", "@alice:hs.test is already in the room.", false},
		{"banned", "M_FORBIDDEN", "@alice:hs.test is banned from the room", true},
		{"not allowed", "M_FORBIDDEN", "You don't have permission to invite users", true},
		{"already joined, another code", "M_UNKNOWN", "user is already joined to room", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			hs.handle(t, routeInvite, func(w http.ResponseWriter, r *http.Request) {
				matrixError(w, http.StatusForbidden, tc.errcode, tc.message)
			})
			err := hs.connect(t).Invite(testContext(t), "!r:hs.test", "@alice:hs.test")
			if (err != nil) != tc.wantErr {
				t.Fatalf("Invite refused with %q: %v, want an error %t", tc.message, err, tc.wantErr)
			}
		})
	}
}
