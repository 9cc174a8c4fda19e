package matrix

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// markedMsg is an event of sender whose content ends the reply to ends.
func markedMsg(id, sender, ends string) string {
	return fmt.Sprintf(`{"type":"m.room.message","event_id":%q,"sender":%q,"room_id":"!r:hs.test","origin_server_ts":1,
		"content":{"msgtype":"m.text","body":"* done","m.new_content":{"msgtype":"m.text","body":"done"},
		"m.relates_to":{"rel_type":"m.replace","event_id":"$first"},"org.surfaces.reply_end":%q}}`, id, sender, ends)
}

// probeEvent is the reply check the fake homeserver's state route answers
// with ($state).
var probeEvent = fmt.Sprintf(`{"type":"org.surfaces.reply_check","state_key":"","event_id":"$state","sender":%q,
	"room_id":"!r:hs.test","origin_server_ts":2,"content":{"event_id":"$asked"}}`, botID)

// TestReplyEnded: a room that restarts with a turn in flight asks whether
// the bot's latest events hold the post that ended the reply to the turn's
// message; only the bot's own post with that message's mark counts, and
// only once the probe written first shows is not finding it an answer.
func TestReplyEnded(t *testing.T) {
	tests := []struct {
		name string
		// reads are the chunks of the successive /messages answers (the
		// last one repeats).
		reads      [][]string
		stateFails bool
		want       bool
		err        bool
	}{
		{"the last post is marked", [][]string{{probeEvent, markedMsg("$end", botID, "$asked"), rawMsg("$first", botID, "do")}}, false, true, false},
		{"behind the turn's notice", [][]string{{probeEvent, rawMsg("$n", botID, "note"), markedMsg("$end", botID, "$asked")}}, false, true, false},
		{"another message's reply ended", [][]string{{probeEvent, markedMsg("$end", botID, "$other")}}, false, false, false},
		{"only streaming edits", [][]string{{probeEvent, rawMsg("$e2", botID, "* do…"), rawMsg("$first", botID, "do")}}, false, false, false},
		{"a user's forged mark", [][]string{{probeEvent, markedMsg("$end", "@alice:hs.test", "$asked")}}, false, false, false},
		{"an empty room", [][]string{{probeEvent}}, false, false, false},
		// The homeserver shows what it accepted seconds late: the last
		// post and the probe come in a later read.
		{"the post shows late", [][]string{{rawMsg("$first", botID, "do")}, {rawMsg("$first", botID, "do")},
			{probeEvent, markedMsg("$end", botID, "$asked"), rawMsg("$first", botID, "do")}}, false, true, false},
		{"no post, the probe late", [][]string{{}, {probeEvent}}, false, false, false},
		{"the probe never shows", [][]string{{rawMsg("$first", botID, "do")}}, false, false, true},
		{"the probe cannot be written", [][]string{{probeEvent}}, true, false, true},
		{"the homeserver refuses to read", nil, false, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			var (
				mu    sync.Mutex
				query url.Values
				reads int
			)
			hs.handle(t, routeMessages, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				query = r.URL.Query()
				if tc.reads == nil {
					matrixError(w, http.StatusForbidden, "M_FORBIDDEN", "no history for you")
					return
				}
				chunk := tc.reads[min(reads, len(tc.reads)-1)]
				reads++
				writeJSON(w, http.StatusOK, `{"chunk":[`+strings.Join(chunk, ",")+`],"start":"s"}`)
			})
			if tc.stateFails {
				hs.handle(t, routeState, func(w http.ResponseWriter, _ *http.Request) {
					matrixError(w, http.StatusForbidden, "M_FORBIDDEN", "no state for you")
				})
			}
			ctx, cancel := context.WithTimeout(testContext(t), 2*time.Second)
			defer cancel()
			ended, err := hs.connect(t).ReplyEnded(ctx, "!r:hs.test", "$asked")
			if ended != tc.want || (err != nil) != tc.err {
				t.Fatalf("ReplyEnded = %t, %v; want %t, error %t", ended, err, tc.want, tc.err)
			}
			if tc.stateFails {
				return
			}
			// The probe was written first, naming the message.
			var probes []recorded
			for _, r := range hs.requests() {
				if r.Method == "PUT" && strings.HasPrefix(r.Path, roomPath+"/state/org.surfaces.reply_check") {
					probes = append(probes, r)
				}
			}
			if len(probes) != 1 || !strings.Contains(string(probes[0].Body), `"$asked"`) {
				t.Fatalf("reply checks written: %v, want one naming $asked", probes)
			}
			if tc.reads == nil {
				return
			}
			// The latest events first, the bot's alone.
			mu.Lock()
			defer mu.Unlock()
			var filter struct{ Senders []string }
			if err := json.Unmarshal([]byte(query.Get("filter")), &filter); err != nil || query.Get("dir") != "b" ||
				query.Has("from") || len(filter.Senders) != 1 || filter.Senders[0] != botID {
				t.Fatalf("asked /messages with %v, want dir=b from the end, filtered to the bot", query)
			}
		})
	}
}
