package room

import (
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
)

// TestTakeQueued: the events already queued behind the first go with it,
// up to the turn's end and maxEventBatch, without waiting for more.
func TestTakeQueued(t *testing.T) {
	text := func(s string) actors.AgentEvent { return actors.AgentEvent{Kind: actors.AgentTextChunk, Text: s} }
	end := actors.AgentEvent{Kind: actors.AgentEnd}
	many := make([]actors.AgentEvent, maxEventBatch+5)
	for i := range many {
		many[i] = text("w")
	}
	tests := []struct {
		name   string
		queued []actors.AgentEvent
		close  bool
		want   int // events in the batch, the first included
	}{
		{"nothing queued: the first alone", nil, false, 1},
		{"the rest of the answer and its end", []actors.AgentEvent{text("b"), text("c"), end}, true, 4},
		{"nothing after the end", []actors.AgentEvent{end, text("late")}, false, 2},
		{"a closed channel", []actors.AgentEvent{text("b")}, true, 2},
		{"at most maxEventBatch", many, false, maxEventBatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events := make(chan actors.AgentEvent, len(tc.queued))
			for _, ev := range tc.queued {
				events <- ev
			}
			if tc.close {
				close(events)
			}
			got := takeQueued(text("a"), events)
			if len(got) != tc.want || got[0].Text != "a" {
				t.Fatalf("batch of %d starting %q, want %d starting \"a\"", len(got), got[0].Text, tc.want)
			}
			if left := len(events); left != len(tc.queued)-(tc.want-1) {
				t.Fatalf("%d events left queued, want %d", left, len(tc.queued)-(tc.want-1))
			}
		})
	}
}
