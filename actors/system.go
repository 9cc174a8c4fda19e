package actors

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
)

// NewActorSystem returns a protoactor system whose own logs go to log
// (through zerolog's slog handler) instead of a second logging stack.
// protoactor logs lifecycle chatter at info; it is demoted to debug unless
// it is a warning or worse.
func NewActorSystem(log zerolog.Logger) *actor.ActorSystem {
	lib := log.With().Str("component", "protoactor").Logger()
	if lib.GetLevel() < zerolog.WarnLevel {
		lib = lib.Level(zerolog.WarnLevel)
	}
	return actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(zerolog.NewSlogHandler(lib))
		}),
		actor.WithDeadLetterThrottleInterval(time.Second),
	)
}
