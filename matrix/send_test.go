package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
)

const roomPath = "/_matrix/client/v3/rooms/!r:hs.test"

// TestSenderRequests: what each MatrixSender method (and SetDisplayName)
// puts on the wire.
func TestSenderRequests(t *testing.T) {
	tests := []struct {
		name         string
		call         func(ctx context.Context, c *Client) (string, error)
		wantID       string
		method, path string
		body         string
	}{
		{
			name:   "SendText plain text has no formatted body",
			call:   func(ctx context.Context, c *Client) (string, error) { return c.SendText(ctx, "!r:hs.test", "hello") },
			wantID: "$sent", method: "PUT", path: roomPath + "/send/m.room.message/*",
			body: `{"msgtype":"m.text","body":"hello","m.mentions":{}}`,
		},
		{
			name: "SendText renders Markdown and escapes raw HTML",
			call: func(ctx context.Context, c *Client) (string, error) {
				return c.SendText(ctx, "!r:hs.test", "**bold** <b>raw</b> & <script>x</script>")
			},
			wantID: "$sent", method: "PUT", path: roomPath + "/send/m.room.message/*",
			body: `{"msgtype":"m.text","body":"**bold** <b>raw</b> & <script>x</script>",
				"format":"org.matrix.custom.html",
				"formatted_body":"<strong>bold</strong> &lt;b&gt;raw&lt;/b&gt; &amp; &lt;script&gt;x&lt;/script&gt;",
				"m.mentions":{}}`,
		},
		{
			name: "SendNotice is an m.notice",
			call: func(ctx context.Context, c *Client) (string, error) {
				return c.SendNotice(ctx, "!r:hs.test", "Agent *busy*")
			},
			wantID: "$sent", method: "PUT", path: roomPath + "/send/m.room.message/*",
			body: `{"msgtype":"m.notice","body":"Agent *busy*","format":"org.matrix.custom.html",
				"formatted_body":"Agent <em>busy</em>","m.mentions":{}}`,
		},
		{
			name: "EditText replaces the original with m.new_content",
			call: func(ctx context.Context, c *Client) (string, error) {
				return "", c.EditText(ctx, "!r:hs.test", "$orig", "new **text**")
			},
			method: "PUT", path: roomPath + "/send/m.room.message/*",
			body: `{"msgtype":"m.text","body":"* new **text**","format":"org.matrix.custom.html",
				"formatted_body":"* new <strong>text</strong>","m.mentions":{},
				"m.new_content":{"msgtype":"m.text","body":"new **text**","format":"org.matrix.custom.html",
					"formatted_body":"new <strong>text</strong>","m.mentions":{}},
				"m.relates_to":{"rel_type":"m.replace","event_id":"$orig"}}`,
		},
		{
			name: "EditText of pathological text drops HTML and most of the fallback",
			call: func(ctx context.Context, c *Client) (string, error) {
				return "", c.EditText(ctx, "!r:hs.test", "$orig", strings.Repeat("<", 8000))
			},
			method: "PUT", path: roomPath + "/send/m.room.message/*",
			body: mustJSON(t, map[string]any{
				"msgtype": "m.text", "body": "* " + strings.Repeat("<", 62) + "…", "m.mentions": map[string]any{},
				"m.new_content": map[string]any{"msgtype": "m.text", "body": strings.Repeat("<", 8000), "m.mentions": map[string]any{}},
				"m.relates_to":  map[string]any{"rel_type": "m.replace", "event_id": "$orig"},
			}),
		},
		{
			name: "SendText ending a reply carries the mark",
			call: func(ctx context.Context, c *Client) (string, error) {
				return c.SendText(actors.EndingReply(ctx, "$asked"), "!r:hs.test", "hello")
			},
			wantID: "$sent", method: "PUT", path: roomPath + "/send/m.room.message/*",
			body: `{"msgtype":"m.text","body":"hello","m.mentions":{},"org.surfaces.reply_end":"$asked"}`,
		},
		{
			name: "EditText ending a reply carries the mark beside the edit",
			call: func(ctx context.Context, c *Client) (string, error) {
				return "", c.EditText(actors.EndingReply(ctx, "$asked"), "!r:hs.test", "$orig", "done")
			},
			method: "PUT", path: roomPath + "/send/m.room.message/*",
			body: `{"msgtype":"m.text","body":"* done","m.mentions":{},
				"m.new_content":{"msgtype":"m.text","body":"done","m.mentions":{}},
				"m.relates_to":{"rel_type":"m.replace","event_id":"$orig"},
				"org.surfaces.reply_end":"$asked"}`,
		},
		{
			name: "SetTyping on",
			call: func(ctx context.Context, c *Client) (string, error) {
				return "", c.SetTyping(ctx, "!r:hs.test", true, 30*time.Second)
			},
			method: "PUT", path: roomPath + "/typing/@bot:hs.test", body: `{"typing":true,"timeout":30000}`,
		},
		{
			name: "SetTyping off where it is on",
			call: func(ctx context.Context, c *Client) (string, error) {
				c.courtesy.typingOn("!r:hs.test")
				return "", c.SetTyping(ctx, "!r:hs.test", false, 0)
			},
			method: "PUT", path: roomPath + "/typing/@bot:hs.test", body: `{"typing":false}`,
		},
		{
			name: "SendReaction is an m.annotation of the event",
			call: func(ctx context.Context, c *Client) (string, error) {
				return "", c.SendReaction(ctx, "!r:hs.test", "$ask", "👍")
			},
			method: "PUT", path: roomPath + "/send/m.reaction/*",
			body: `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$ask","key":"👍"}}`,
		},
		{
			name: "MarkRead sends an m.read receipt",
			call: func(ctx context.Context, c *Client) (string, error) {
				return "", c.MarkRead(ctx, "!r:hs.test", "$msg")
			},
			method: "POST", path: roomPath + "/receipt/m.read/$msg", body: `{}`,
		},
		{
			name: "SetDisplayName",
			call: func(ctx context.Context, c *Client) (string, error) {
				return "", c.SetDisplayName(ctx, "Surfaces")
			},
			method: "PUT", path: "/_matrix/client/v3/profile/@bot:hs.test/displayname", body: `{"displayname":"Surfaces"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			id, err := tc.call(testContext(t), c)
			if err != nil {
				t.Fatalf("call failed: %v", err)
			}
			if id != tc.wantID {
				t.Fatalf("returned event id %q, want %q", id, tc.wantID)
			}
			reqs := hs.requests()
			if len(reqs) != 1 {
				t.Fatalf("homeserver got %d requests, want 1: %v", len(reqs), reqs)
			}
			wantRequest(t, reqs[0], tc.method, tc.path, tc.body)
			if reqs[0].Auth != "Bearer tok" {
				t.Fatalf("Authorization %q, want the session's token", reqs[0].Auth)
			}
		})
	}
}

// TestSendTooLarge: a message that cannot fit one event even without HTML
// is refused before anything goes to the homeserver.
func TestSendTooLarge(t *testing.T) {
	huge := strings.Repeat("a", maxEventBytes)
	tests := []struct {
		name string
		call func(ctx context.Context, c *Client) error
	}{
		{"SendText", func(ctx context.Context, c *Client) error { _, err := c.SendText(ctx, "!r:hs.test", huge); return err }},
		{"SendNotice", func(ctx context.Context, c *Client) error {
			_, err := c.SendNotice(ctx, "!r:hs.test", huge)
			return err
		}},
		{"EditText", func(ctx context.Context, c *Client) error { return c.EditText(ctx, "!r:hs.test", "$orig", huge) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			err := tc.call(testContext(t), c)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v, want one wrapping ErrTooLarge", err)
			}
			if reqs := hs.requests(); len(reqs) != 0 {
				t.Fatalf("an oversize event was sent: %d requests", len(reqs))
			}
		})
	}
}

// TestSendErrors: a refused send names the room and keeps the homeserver's
// error for errors.Is.
func TestSendErrors(t *testing.T) {
	tests := []struct {
		name, wantMsg string
		call          func(ctx context.Context, c *Client) error
	}{
		{"SendText", "failed to send to !r:hs.test", func(ctx context.Context, c *Client) error {
			_, err := c.SendText(ctx, "!r:hs.test", "hi")
			return err
		}},
		{"EditText", "failed to send to !r:hs.test", func(ctx context.Context, c *Client) error {
			return c.EditText(ctx, "!r:hs.test", "$orig", "hi")
		}},
		{"SetTyping", "failed to set typing in !r:hs.test", func(ctx context.Context, c *Client) error {
			return c.SetTyping(ctx, "!r:hs.test", true, time.Second)
		}},
		{"SetDisplayName", "failed to set the display name", func(ctx context.Context, c *Client) error {
			return c.SetDisplayName(ctx, "Surfaces")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			c := hs.connect(t)
			hs.failAll(t, 403, "M_FORBIDDEN")
			err := tc.call(testContext(t), c)
			assertMatrixError(t, err, tc.wantMsg, "M_FORBIDDEN")
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
