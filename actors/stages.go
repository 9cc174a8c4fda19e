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

// Restored is true for a turn that came from the record after a restart:
// its clock did not run, so it has no stages to report.
func (s TurnStages) Restored() bool { return s.Final == 0 && s.Recorded == 0 }
