package room

import (
	"time"

	"github.com/rs/zerolog"
	"github.com/surfaces-bot/surfaces/actors"
)

// stageClock holds when a turn's stages ended (TurnStages); a zero time is
// a stage the turn did not reach.
type stageClock struct {
	received, taken, recorded, agentReady, firstChunk, firstSent, firstVisible, final time.Time
}

// stages is the clock as durations from received.
func (k stageClock) stages() actors.TurnStages {
	since := func(t time.Time) time.Duration {
		if t.IsZero() || k.received.IsZero() {
			return 0
		}
		return max(t.Sub(k.received), 0)
	}
	return actors.TurnStages{
		Taken: since(k.taken), Recorded: since(k.recorded), AgentReady: since(k.agentReady),
		FirstChunk: since(k.firstChunk), FirstSent: since(k.firstSent), FirstVisible: since(k.firstVisible),
		Final: since(k.final),
	}
}

// logDict is s for the turn's end log line, in milliseconds.
func logDict(s actors.TurnStages) *zerolog.Event {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return zerolog.Dict().Float64("taken", ms(s.Taken)).Float64("recorded", ms(s.Recorded)).
		Float64("agent_ready", ms(s.AgentReady)).Float64("first_chunk", ms(s.FirstChunk)).
		Float64("first_sent", ms(s.FirstSent)).Float64("first_visible", ms(s.FirstVisible)).
		Float64("final", ms(s.Final))
}
