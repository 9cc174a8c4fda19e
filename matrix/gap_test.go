package matrix

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
)

// newGapSyncer is a syncer whose client talks to a fake homeserver, with
// !r:hs.test a chat room alice owns.
func newGapSyncer(t *testing.T) (*syncer, *testHomeserver, *memState, *[]any) {
	t.Helper()
	hs := newTestHomeserver(t)
	c := hs.connect(t)
	st := newMemState()
	st.rooms["!r:hs.test"] = actors.RoomRecord{RoomID: "!r:hs.test", OwnerID: "@alice:hs.test"}
	c.store = st
	var got []any
	return newSyncer(c, func(m any) { got = append(got, m) }, newPosition(st, botID, 0), nil), hs, st, &got
}

// pages serves /messages backwards: page i (from token "p<i>") holds
// events[i], newest first, and points at page i+1.
func pages(t *testing.T, events [][]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var i int
		if _, err := fmt.Sscanf(r.URL.Query().Get("from"), "p%d", &i); err != nil || i >= len(events) {
			writeJSON(w, http.StatusOK, `{"chunk":[],"start":"x"}`)
			return
		}
		end := ""
		if i+1 < len(events) {
			end = fmt.Sprintf(`,"end":"p%d"`, i+1)
		}
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"chunk":[%s],"start":"p%d"%s}`, strings.Join(events[i], ","), i, end))
	}
}

func rawMsg(id, sender, body string) string {
	return fmt.Sprintf(`{"type":"m.room.message","event_id":%q,"sender":%q,"room_id":"!r:hs.test","origin_server_ts":1,"content":{"msgtype":"m.text","body":%q}}`, id, sender, body)
}

func limitedResp(prevBatch string, events ...*event.Event) *mautrix.RespSync {
	resp := joinResp(events...)
	tl := &resp.Rooms.Join[id.RoomID("!r:hs.test")].Timeline
	tl.Limited, tl.PrevBatch = true, prevBatch
	return resp
}

func bodies(got []any) (texts []string, skipped int) {
	for _, m := range got {
		switch m := m.(type) {
		case *actors.MessageReceived:
			texts = append(texts, m.Body)
		case *actors.MessagesSkipped:
			skipped++
		}
	}
	return texts, skipped
}

// A sync cut short after downtime (limited) is filled from /messages back
// to the bot's own last event, so every message sent meanwhile is handled,
// in order, and nobody is told anything was skipped.
func TestSyncerFillsALimitedTimeline(t *testing.T) {
	s, hs, _, got := newGapSyncer(t)
	hs.handle(t, routeMessages, pages(t, [][]string{
		{rawMsg("$3", "@alice:hs.test", "three"), rawMsg("$2", "@alice:hs.test", "two")},
		{rawMsg("$1", "@alice:hs.test", "one"), rawMsg("$b", botID, "the bot's last reply"), rawMsg("$0", "@alice:hs.test", "long ago")},
	}))
	resp := limitedResp("p0", msgEvent(t, "$4", "@alice:hs.test", "m.text", "four", ""))
	if err := s.ProcessResponse(testContext(t), resp, "since"); err != nil {
		t.Fatal(err)
	}
	texts, skipped := bodies(*got)
	if want := []string{"one", "two", "three", "four"}; !slices.Equal(texts, want) || skipped != 0 {
		t.Fatalf("handled %q with %d skip notices, want %q and none", texts, skipped, want)
	}
}

// A reply check (a probe a member taking over writes, see ReplyEnded) is
// not where the bot stopped reading: the gap goes on past it.
func TestSyncerFillsAGapPastAReplyCheck(t *testing.T) {
	s, hs, _, got := newGapSyncer(t)
	probe := fmt.Sprintf(`{"type":"org.surfaces.reply_check","state_key":"","event_id":"$probe","sender":%q,"room_id":"!r:hs.test","origin_server_ts":1,"content":{}}`, botID)
	hs.handle(t, routeMessages, pages(t, [][]string{
		{rawMsg("$3", "@alice:hs.test", "three"), probe, rawMsg("$2", "@alice:hs.test", "two")},
		{rawMsg("$1", "@alice:hs.test", "one"), rawMsg("$b", botID, "the bot's last reply")},
	}))
	resp := limitedResp("p0", msgEvent(t, "$4", "@alice:hs.test", "m.text", "four", ""))
	if err := s.ProcessResponse(testContext(t), resp, "since"); err != nil {
		t.Fatal(err)
	}
	texts, skipped := bodies(*got)
	if want := []string{"one", "two", "three", "four"}; !slices.Equal(texts, want) || skipped != 0 {
		t.Fatalf("handled %q with %d skip notices, want %q and none", texts, skipped, want)
	}
}

// A gap longer than the bound, or one /messages cannot fetch, is not
// silently lost: the room's owner is told.
func TestSyncerTellsTheOwnerOfAGapItCannotFill(t *testing.T) {
	var long []string
	for i := range 150 {
		long = append(long, rawMsg(fmt.Sprintf("$m%d", 150-i), "@alice:hs.test", fmt.Sprint("m", 150-i)))
	}
	tests := []struct {
		name      string
		handler   func(t *testing.T) http.HandlerFunc
		wantTexts int
	}{
		{"longer than the bound", func(t *testing.T) http.HandlerFunc {
			return pages(t, [][]string{long[:50], long[50:100], long[100:]})
		}, maxGapEvents + 1},
		{"messages fails", func(*testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				matrixError(w, http.StatusForbidden, "M_FORBIDDEN", "no history for you")
			}
		}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, hs, _, got := newGapSyncer(t)
			hs.handle(t, routeMessages, tc.handler(t))
			resp := limitedResp("p0", msgEvent(t, "$now", "@alice:hs.test", "m.text", "now", ""))
			if err := s.ProcessResponse(testContext(t), resp, "since"); err != nil {
				t.Fatal(err)
			}
			texts, skipped := bodies(*got)
			if skipped != 1 || len(texts) != tc.wantTexts || texts[len(texts)-1] != "now" {
				t.Fatalf("handled %d messages (last %q) with %d skip notices, want %d and one notice", len(texts), texts[len(texts)-1], skipped, tc.wantTexts)
			}
			for _, m := range *got {
				if sk, ok := m.(*actors.MessagesSkipped); ok && (sk.Owner != "@alice:hs.test" || sk.RoomID != "!r:hs.test") {
					t.Fatalf("skip notice %+v, want it for alice in !r", sk)
				}
			}
		})
	}
}

// A stranger's event costs no disk write: it is passed on (the actors drop
// it) without being recorded as handled.
func TestSyncerSpendsNoWriteOnAStranger(t *testing.T) {
	s, got := newTestSyncer(t)
	resp := joinResp(msgEvent(t, "$eve", "@eve:elsewhere.test", "m.text", "hi", ""), msgEvent(t, "$alice", "@alice:hs.test", "m.text", "hi", ""))
	if err := s.ProcessResponse(testContext(t), resp, "since"); err != nil {
		t.Fatal(err)
	}
	ackAll(*got)
	if err := s.pos.commit(testContext(t), false); err != nil {
		t.Fatal(err)
	}
	st := s.c.store.(*memState)
	if st.seen["$eve"] || !st.seen["$alice"] {
		t.Fatalf("recorded %v, want alice's event and not the stranger's", st.seen)
	}
	if len(*got) != 2 {
		t.Fatalf("delivered %d events, want both (the root decides)", len(*got))
	}
}
