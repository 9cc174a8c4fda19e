package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// One turn id follows a turn through the room actor, the agent client and
// the Matrix sends; nothing the user wrote is logged at info or above
// (PRODUCT R8.3).
func TestATurnIDFollowsTheTurn(t *testing.T) {
	w := newWorld(t)
	w.onboard()
	const secret = "zq7x unusual words only alice wrote"
	w.ask(secret, func(m harness.Message) bool { return m.FinalBody == "echo: "+secret })
	// The user sees the final text before the bot logs the turn's end.
	ctx, cancel := w.wait()
	defer cancel()
	if _, err := w.stack.Bot.WaitForLine(ctx, regexp.MustCompile(`"message":"turn ended"`)); err != nil {
		t.Fatal(err)
	}

	var lines []map[string]any
	for _, raw := range w.stack.Bot.StdoutLines() {
		var l map[string]any
		if json.Unmarshal([]byte(raw), &l) == nil {
			lines = append(lines, l)
		}
		var level struct{ Level string }
		json.Unmarshal([]byte(raw), &level)
		if level.Level == "info" || level.Level == "warn" || level.Level == "error" {
			if strings.Contains(raw, "zq7x") {
				t.Errorf("the user's words are logged at %s: %s", level.Level, raw)
			}
		}
	}
	var turnID any
	for _, l := range lines {
		if l["message"] == "turn started" {
			turnID = l["turn_id"]
		}
	}
	if turnID == nil {
		t.Fatal("no turn started line with a turn_id")
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if l["turn_id"] != turnID {
			continue
		}
		msg, _ := l["message"].(string)
		seen[msg] = true
		if url, _ := l["url"].(string); msg == "Request completed" && strings.Contains(url, "/send/m.room.message/") {
			seen["a Matrix send"] = true
		}
	}
	for _, want := range []string{"turn started", "agent connected", "a Matrix send", "turn ended"} {
		if !seen[want] {
			t.Errorf("no %q line carries turn_id %v; lines with it: %v", want, turnID, seen)
		}
	}
}
