package actors_test

import (
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
)

func TestAgentEventTerminal(t *testing.T) {
	for _, tc := range []struct {
		kind actors.AgentEventKind
		want bool
	}{
		{actors.AgentTextChunk, false},
		{actors.AgentEnd, true},
		{actors.AgentFailed, true},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			if got := (actors.AgentEvent{Kind: tc.kind}).Terminal(); got != tc.want {
				t.Fatalf("Terminal() = %v, want %v", got, tc.want)
			}
		})
	}
}
