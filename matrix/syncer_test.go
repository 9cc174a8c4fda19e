package matrix

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
)

const botID = "@bot:hs.test"

// memState is a StateStore in memory, for syncer unit tests.
type memState struct {
	mu    sync.Mutex
	seen  map[string]bool
	meta  map[string]string
	users map[string]actors.UserRecord
	rooms map[string]actors.RoomRecord
	// next is the sync position last committed.
	next string
	// inbox is the appservice inbox (appservice_test.go).
	inbox []inboxEntry
	// writes counts the inbox and handled-mark writes.
	writes int
}

func (m *memState) SaveFilterID(context.Context, string, string) error    { return nil }
func (m *memState) LoadFilterID(context.Context, string) (string, error)  { return "", nil }
func (m *memState) SaveNextBatch(context.Context, string, string) error   { return nil }
func (m *memState) LoadNextBatch(context.Context, string) (string, error) { return "", nil }
func (m *memState) GetMeta(_ context.Context, k string) (string, error)   { return m.meta[k], nil }
func (m *memState) PutMeta(_ context.Context, k, v string) error          { m.meta[k] = v; return nil }
func (m *memState) GetUser(_ context.Context, u string) (actors.UserRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.users[u]; ok {
		return r, nil
	}
	return actors.UserRecord{}, fmt.Errorf("user %s: %w", u, actors.ErrNotFound)
}

func (m *memState) GetRoom(_ context.Context, r string) (actors.RoomRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rec, ok := m.rooms[r]; ok {
		return rec, nil
	}
	return actors.RoomRecord{}, fmt.Errorf("room %s: %w", r, actors.ErrNotFound)
}

func (m *memState) EventHandled(ctx context.Context, id string) (bool, error) {
	// As the real stores: a stopped context fails the read.
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[id], nil
}

func (m *memState) CommitSync(_ context.Context, _, next string, handled []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	for _, id := range handled {
		m.seen[id] = true
	}
	if next != "" {
		m.next = next
	}
	return nil
}

func newTestSyncer(t *testing.T) (*syncer, *[]any) {
	return newTestSyncerWith(t, nil)
}

func newTestSyncerWith(t *testing.T, onFirstSync func()) (*syncer, *[]any) {
	t.Helper()
	cli, err := mautrix.NewClient("http://127.0.0.1:1", id.UserID(botID), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	st := newMemState()
	c := &Client{cli: cli, store: st}
	return newSyncer(c, func(m any) { got = append(got, m) }, newPosition(st, botID, 0), onFirstSync), &got
}

func evt(t *testing.T, raw string) *event.Event {
	t.Helper()
	var e event.Event
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

func msgEvent(t *testing.T, id, sender, msgtype, body, extra string) *event.Event {
	return evt(t, fmt.Sprintf(`{"type":"m.room.message","event_id":%q,"sender":%q,"origin_server_ts":1,
		"content":{"msgtype":%q,"body":%q%s}}`, id, sender, msgtype, body, extra))
}

func joinResp(events ...*event.Event) *mautrix.RespSync {
	resp := &mautrix.RespSync{}
	resp.Rooms.Join = map[id.RoomID]*mautrix.SyncJoinedRoom{"!r:hs.test": {Timeline: mautrix.SyncTimeline{SyncEventsList: mautrix.SyncEventsList{Events: events}}}}
	return resp
}

func TestSyncerFiltersEvents(t *testing.T) {
	tests := []struct {
		name string
		evt  func(t *testing.T) *event.Event
		want bool
	}{
		{"text", func(t *testing.T) *event.Event { return msgEvent(t, "$1", "@u:hs.test", "m.text", "hi", "") }, true},
		{"emote", func(t *testing.T) *event.Event { return msgEvent(t, "$2", "@u:hs.test", "m.emote", "waves", "") }, true},
		{"own event", func(t *testing.T) *event.Event { return msgEvent(t, "$3", botID, "m.text", "me", "") }, false},
		{"notice", func(t *testing.T) *event.Event {
			return msgEvent(t, "$4", "@other-bot:hs.test", "m.notice", "beep", "")
		}, false},
		{"edit", func(t *testing.T) *event.Event {
			return msgEvent(t, "$5", "@u:hs.test", "m.text", "* fixed", `,"m.relates_to":{"rel_type":"m.replace","event_id":"$1"}`)
		}, false},
		{"redaction", func(t *testing.T) *event.Event {
			return evt(t, `{"type":"m.room.redaction","event_id":"$6","sender":"@u:hs.test","redacts":"$1","content":{}}`)
		}, false},
		{"encrypted", func(t *testing.T) *event.Event {
			return evt(t, `{"type":"m.room.encrypted","event_id":"$8","sender":"@u:hs.test","content":{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"x"}}`)
		}, true},
		{"garbage content", func(t *testing.T) *event.Event {
			return evt(t, `{"type":"m.room.message","event_id":"$7","sender":"@u:hs.test","content":{"msgtype":5,"body":[]}}`)
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, got := newTestSyncer(t)
			if err := s.ProcessResponse(context.Background(), joinResp(tc.evt(t)), "since"); err != nil {
				t.Fatal(err)
			}
			if (len(*got) == 1) != tc.want {
				t.Fatalf("delivered %v, want delivered=%v", *got, tc.want)
			}
		})
	}
}

func TestSyncerSkipsHistoryAndDuplicates(t *testing.T) {
	s, got := newTestSyncer(t)
	ctx := context.Background()
	old := msgEvent(t, "$old", "@u:hs.test", "m.text", "before the bot", "")
	// The first sync of an empty state is history.
	if err := s.ProcessResponse(ctx, joinResp(old), ""); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 0 {
		t.Fatalf("initial sync delivered %v", *got)
	}
	join := evt(t, `{"type":"m.room.member","event_id":"$join","sender":"`+botID+`","state_key":"`+botID+`","content":{"membership":"join"}}`)
	fresh := msgEvent(t, "$new", "@u:hs.test", "m.text", "after", "")
	if err := s.ProcessResponse(ctx, joinResp(old, join, fresh), "s1"); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 1 || (*got)[0].(*actors.MessageReceived).EventID != "$new" {
		t.Fatalf("got %v, want only the event after the join", *got)
	}
	// The same event again before the tree acked it (a restart after a
	// crash) is delivered again: the room that took it knows. A new copy
	// of it: the delivered one's content is parsed already, and mautrix
	// refuses to parse it again.
	replay := func() *event.Event { return msgEvent(t, "$new", "@u:hs.test", "m.text", "after", "") }
	if err := s.ProcessResponse(ctx, joinResp(replay()), "s2"); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 2 {
		t.Fatalf("an event not acked was not delivered again: %v", *got)
	}
	// Once acked and committed, it is marked handled and not delivered
	// again.
	ackAll(*got)
	if err := s.pos.commit(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := s.ProcessResponse(ctx, joinResp(replay()), "s3"); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 2 {
		t.Fatalf("duplicate delivered: %v", *got)
	}
}

// A message in a response the bot was still reading when it was told to
// stop (a graceful stop, or a member of a cluster handing over) is left for
// the next start: the position is not committed past it, so the homeserver
// delivers it again. Before, the failed handled-check skipped it and the
// stop committed the position past it: the message was lost (seen in the
// cluster test's graceful handover).
func TestSyncerLeavesEventsForTheNextStartWhenStopping(t *testing.T) {
	s, got := newTestSyncer(t)
	st := s.c.store.(*memState)
	join := evt(t, `{"type":"m.room.member","event_id":"$join","sender":"`+botID+`","state_key":"`+botID+`","content":{"membership":"join"}}`)
	first := joinResp(join)
	first.NextBatch = "s1"
	if err := s.ProcessResponse(context.Background(), first, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.pos.commit(context.Background(), false); err != nil || st.next != "s1" {
		t.Fatalf("the first position: %q (%v), want s1", st.next, err)
	}
	stopping, stop := context.WithCancel(context.Background())
	stop()
	late := joinResp(msgEvent(t, "$late", "@u:hs.test", "m.text", "sent as the bot stops", ""))
	late.NextBatch = "s2"
	_ = s.ProcessResponse(stopping, late, "s1")
	if len(*got) != 0 {
		t.Fatalf("delivered %v to a tree that is stopping", *got)
	}
	if err := s.pos.commit(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if st.next != "s1" {
		t.Fatalf("the position was committed to %q, past a message the bot never handled", st.next)
	}
}

func TestSyncerInvites(t *testing.T) {
	firstSyncs := 0
	s, got := newTestSyncerWith(t, func() { firstSyncs++ })
	resp := &mautrix.RespSync{}
	invite := evt(t, `{"type":"m.room.member","sender":"@alice:hs.test","state_key":"`+botID+`","content":{"membership":"invite","is_direct":true}}`)
	other := evt(t, `{"type":"m.room.member","sender":"@alice:hs.test","state_key":"@alice:hs.test","content":{"membership":"join"}}`)
	resp.Rooms.Invite = map[id.RoomID]*mautrix.SyncInvitedRoom{"!dm:hs.test": {State: mautrix.SyncEventsList{Events: []*event.Event{other, invite}}}}
	if err := s.ProcessResponse(context.Background(), resp, ""); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 1 {
		t.Fatalf("got %v", *got)
	}
	inv := (*got)[0].(*actors.InviteReceived)
	if inv.Inviter != "@alice:hs.test" || !inv.IsDirect || inv.RoomID != "!dm:hs.test" {
		t.Fatalf("invite %+v", inv)
	}
	if err := s.ProcessResponse(context.Background(), &mautrix.RespSync{}, "s1"); err != nil {
		t.Fatal(err)
	}
	if firstSyncs != 1 {
		t.Fatalf("onFirstSync ran %d times, want once", firstSyncs)
	}
}

func TestRenderAndFit(t *testing.T) {
	c := render(event.MsgText, "**bold** <script>x</script>")
	if c.Body != "**bold** <script>x</script>" || !strings.Contains(c.FormattedBody, "<strong>bold</strong>") || strings.Contains(c.FormattedBody, "<script>") {
		t.Fatalf("render: %+v", c)
	}
	huge := render(event.MsgText, strings.Repeat("<", 9000))
	if err := fit(huge); err != nil || huge.FormattedBody != "" || len(huge.Body) != 9000 {
		t.Fatalf("fit kept %d bytes of HTML, err %v", len(huge.FormattedBody), err)
	}
	edit := render(event.MsgText, strings.Repeat("<", 8000))
	edit.SetEdit("$orig")
	if err := fit(edit); err != nil || len(edit.NewContent.Body) != 8000 {
		t.Fatalf("fit of an edit: %v, new body %d bytes", err, len(edit.NewContent.Body))
	}
	if err := fit(render(event.MsgText, strings.Repeat("a", 70000))); err == nil {
		t.Fatal("fit accepted a body over the event limit")
	}
}

// ackAll acks every event message in msgs, as the actor tree would.
func ackAll(msgs []any) {
	for _, m := range msgs {
		switch m := m.(type) {
		case *actors.MessageReceived:
			m.Ack.Done()
		case *actors.ReactionReceived:
			m.Ack.Done()
		case *actors.InviteReceived:
			m.Ack.Done()
		case *actors.MessagesSkipped:
			m.Ack.Done()
		}
	}
}
