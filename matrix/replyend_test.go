package matrix

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// markedMsg is an event of sender whose content ends the reply to ends.
func markedMsg(id, sender, ends string) string {
	return fmt.Sprintf(`{"type":"m.room.message","event_id":%q,"sender":%q,"room_id":"!r:hs.test","origin_server_ts":1,
		"content":{"msgtype":"m.text","body":"* done","m.new_content":{"msgtype":"m.text","body":"done"},
		"m.relates_to":{"rel_type":"m.replace","event_id":"$first"},"org.surfaces.reply_end":%q}}`, id, sender, ends)
}

// TestReplyEnded: a room that restarts with a turn in flight asks whether
// the bot's latest events hold the post that ended the reply to the turn's
// message; only the bot's own post with that message's mark counts.
func TestReplyEnded(t *testing.T) {
	tests := []struct {
		name   string
		chunk  []string
		status int
		want   bool
		err    bool
	}{
		{"the last post is marked", []string{markedMsg("$end", botID, "$asked"), rawMsg("$first", botID, "do")}, 200, true, false},
		{"behind the turn's notice", []string{rawMsg("$n", botID, "note"), markedMsg("$end", botID, "$asked")}, 200, true, false},
		{"another message's reply ended", []string{markedMsg("$end", botID, "$other")}, 200, false, false},
		{"only streaming edits", []string{rawMsg("$e2", botID, "* do…"), rawMsg("$first", botID, "do")}, 200, false, false},
		{"a user's forged mark", []string{markedMsg("$end", "@alice:hs.test", "$asked")}, 200, false, false},
		{"an empty room", nil, 200, false, false},
		{"the homeserver refuses", nil, http.StatusForbidden, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newTestHomeserver(t)
			var query url.Values
			hs.handle(t, routeMessages, func(w http.ResponseWriter, r *http.Request) {
				query = r.URL.Query()
				if tc.status != 200 {
					matrixError(w, tc.status, "M_FORBIDDEN", "no history for you")
					return
				}
				writeJSON(w, http.StatusOK, `{"chunk":[`+strings.Join(tc.chunk, ",")+`],"start":"s"}`)
			})
			ended, err := hs.connect(t).ReplyEnded(testContext(t), "!r:hs.test", "$asked")
			if ended != tc.want || (err != nil) != tc.err {
				t.Fatalf("ReplyEnded = %t, %v; want %t, error %t", ended, err, tc.want, tc.err)
			}
			// The latest events first, the bot's alone.
			var filter struct{ Senders []string }
			if err := json.Unmarshal([]byte(query.Get("filter")), &filter); err != nil || query.Get("dir") != "b" ||
				query.Has("from") || len(filter.Senders) != 1 || filter.Senders[0] != botID {
				t.Fatalf("asked /messages with %v, want dir=b from the end, filtered to the bot", query)
			}
		})
	}
}
