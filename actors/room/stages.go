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
	d := zerolog.Dict()
	for name, t := range s.All() {
		d.Float64(name, float64(t.Microseconds())/1000)
	}
	return d
}
