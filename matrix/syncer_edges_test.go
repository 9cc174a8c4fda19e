package matrix

import (
	"context"
	"errors"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
)

// TestSyncerMedia: file messages carry their media; the body is a caption
// only when it differs from the file name.
func TestSyncerMedia(t *testing.T) {
	tests := []struct {
		name, msgtype, body, extra string
		wantBody                   string
		want                       actors.Media
	}{
		{"file named by its body", "m.file", "report.pdf",
			`,"url":"mxc://hs.test/f","info":{"mimetype":"application/pdf","size":1234}`,
			"", actors.Media{URL: "mxc://hs.test/f", FileName: "report.pdf", MIME: "application/pdf", Size: 1234}},
		{"image with a caption", "m.image", "look at this",
			`,"filename":"cat.png","url":"mxc://hs.test/i","info":{"mimetype":"image/png","size":99}`,
			"look at this", actors.Media{URL: "mxc://hs.test/i", FileName: "cat.png", MIME: "image/png", Size: 99}},
		{"audio whose filename equals the body", "m.audio", "memo.ogg", `,"filename":"memo.ogg","url":"mxc://hs.test/a"`,
			"", actors.Media{URL: "mxc://hs.test/a", FileName: "memo.ogg"}},
		{"video without info", "m.video", "clip.mp4", `,"url":"mxc://hs.test/v"`,
			"", actors.Media{URL: "mxc://hs.test/v", FileName: "clip.mp4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, got := newTestSyncer(t)
			e := msgEvent(t, "$m", "@u:hs.test", tc.msgtype, tc.body, tc.extra)
			if err := s.ProcessResponse(context.Background(), joinResp(e), "since"); err != nil {
				t.Fatal(err)
			}
			if len(*got) != 1 {
				t.Fatalf("delivered %v, want the one message", *got)
			}
			msg := (*got)[0].(*actors.MessageReceived)
			if msg.MsgType != tc.msgtype || msg.Body != tc.wantBody || msg.Media == nil || *msg.Media != tc.want {
				t.Fatalf("got %s %q %+v, want %s %q %+v", msg.MsgType, msg.Body, msg.Media, tc.msgtype, tc.wantBody, tc.want)
			}
		})
	}
}

// TestSyncerInviteFilter: only an invite of the bot by someone else is an
// InviteReceived.
func TestSyncerInviteFilter(t *testing.T) {
	member := func(sender, content string) string {
		return `{"type":"m.room.member","sender":"` + sender + `","state_key":"` + botID + `","content":` + content + `}`
	}
	tests := []struct {
		name string
		raw  string
		want bool
	}{
		{"invite by a user", member("@alice:hs.test", `{"membership":"invite"}`), true},
		{"unparseable membership", member("@alice:hs.test", `{"membership":5}`), false},
		{"not an invite", member("@alice:hs.test", `{"membership":"leave"}`), false},
		{"sent by the bot", member(botID, `{"membership":"invite"}`), false},
		{"someone else's membership",
			`{"type":"m.room.member","sender":"@alice:hs.test","state_key":"@bob:hs.test","content":{"membership":"invite"}}`, false},
		{"not a member event",
			`{"type":"m.room.name","sender":"@alice:hs.test","state_key":"","content":{"name":"x"}}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, got := newTestSyncer(t)
			resp := &mautrix.RespSync{}
			resp.Rooms.Invite = map[id.RoomID]*mautrix.SyncInvitedRoom{
				"!inv:hs.test": {State: mautrix.SyncEventsList{Events: []*event.Event{evt(t, tc.raw)}}},
			}
			if err := s.ProcessResponse(context.Background(), resp, ""); err != nil {
				t.Fatal(err)
			}
			if (len(*got) == 1) != tc.want {
				t.Fatalf("delivered %v, want delivered=%v", *got, tc.want)
			}
		})
	}
}

// failingChecks is a memState that cannot tell whether an event was
// handled (and, to make sure the error alone decides, claims none was).
type failingChecks struct{ *memState }

func (failingChecks) EventHandled(context.Context, string) (bool, error) {
	return false, errors.New("disk on fire")
}

// TestSyncerSkipsUnrecordedEvents: an event that cannot be checked against
// the handled marks is skipped rather than risk answering it twice after a
// restart.
func TestSyncerSkipsUnrecordedEvents(t *testing.T) {
	tests := []struct {
		name  string
		store StateStore
		want  int
	}{
		{"recorded", newMemState(), 1},
		{"checking fails", failingChecks{newMemState()}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, got := newTestSyncer(t)
			s.c.store = tc.store
			e := msgEvent(t, "$1", "@u:hs.test", "m.text", "hi", "")
			if err := s.ProcessResponse(context.Background(), joinResp(e), "since"); err != nil {
				t.Fatal(err)
			}
			if len(*got) != tc.want {
				t.Fatalf("delivered %d messages, want %d", len(*got), tc.want)
			}
		})
	}
}

// TestSyncerReactions: a user's m.annotation is a ReactionReceived; the
// bot's own reactions and malformed ones are dropped.
func TestSyncerReactions(t *testing.T) {
	reaction := func(id, sender, rel string) string {
		return `{"type":"m.reaction","event_id":"` + id + `","sender":"` + sender + `","origin_server_ts":1,
			"content":{"m.relates_to":` + rel + `}}`
	}
	tests := []struct {
		name string
		raw  string
		want *actors.ReactionReceived
	}{
		{"a thumbs up", reaction("$x", "@u:hs.test", `{"rel_type":"m.annotation","event_id":"$ask","key":"👍️"}`),
			&actors.ReactionReceived{RoomID: "!r:hs.test", EventID: "$x", Sender: "@u:hs.test", RelatesTo: "$ask", Key: "👍️"}},
		{"the bot's own", reaction("$y", botID, `{"rel_type":"m.annotation","event_id":"$ask","key":"👍"}`), nil},
		{"not an annotation", reaction("$z", "@u:hs.test", `{"rel_type":"m.reference","event_id":"$ask"}`), nil},
		{"without a key", reaction("$w", "@u:hs.test", `{"rel_type":"m.annotation","event_id":"$ask"}`), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, got := newTestSyncer(t)
			if err := s.ProcessResponse(context.Background(), joinResp(evt(t, tc.raw)), "since"); err != nil {
				t.Fatal(err)
			}
			if len(*got) == 1 {
				if r, ok := (*got)[0].(*actors.ReactionReceived); ok && r.Ack != nil {
					r.Ack = nil // compared apart: every event carries one
				} else {
					t.Fatalf("delivered %+v without an Ack", (*got)[0])
				}
			}
			switch {
			case tc.want == nil && len(*got) != 0:
				t.Fatalf("delivered %+v, want nothing", (*got)[0])
			case tc.want != nil && (len(*got) != 1 || *(*got)[0].(*actors.ReactionReceived) != *tc.want):
				t.Fatalf("delivered %+v, want %+v", *got, tc.want)
			}
		})
	}
}

// A failed sync starts the failing clock; the next good response stops it.
func TestSyncFailingFor(t *testing.T) {
	s, _ := newTestSyncer(t)
	if d := s.c.SyncFailingFor(); d != 0 {
		t.Fatalf("failing for %v before any failure", d)
	}
	if _, err := s.OnFailedSync(nil, errors.New("connection refused")); err != nil {
		t.Fatal(err)
	}
	if s.c.failingSince.Load() == 0 {
		t.Fatal("a failed sync did not start the clock")
	}
	if err := s.ProcessResponse(context.Background(), joinResp(), "since"); err != nil {
		t.Fatal(err)
	}
	if d := s.c.SyncFailingFor(); d != 0 {
		t.Fatalf("failing for %v after a good sync", d)
	}
}
