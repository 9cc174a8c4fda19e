package actors

import (
	"iter"
	"time"
)

// StageNames are TurnStages' stages in their order, as /metrics labels
// them (surfaces_turn_stage_seconds), the turn's end log line keys them
// and the load driver prints them. One list, so that a stage added to
// TurnStages reaches all three at once.
var StageNames = [...]string{
	"taken", "recorded", "agent_ready", "first_chunk", "first_sent", "first_visible", "final",
}

// All yields s's stages in their order, each with its name in StageNames.
func (s TurnStages) All() iter.Seq2[string, time.Duration] {
	return func(yield func(string, time.Duration) bool) {
		for i, d := range [len(StageNames)]time.Duration{
			s.Taken, s.Recorded, s.AgentReady, s.FirstChunk, s.FirstSent, s.FirstVisible, s.Final,
		} {
			if !yield(StageNames[i], d) {
				return
			}
		}
	}
}

// NoClock is true for a turn whose clock did not run, so it has no stages
// to report: one restored from the record after a restart, or one ended
// without stages (cut by a stop, fenced out by a newer activation).
func (s TurnStages) NoClock() bool { return s.Final == 0 && s.Recorded == 0 }
