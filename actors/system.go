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

// CountActors is how many processes the system's registry holds: the
// resident actors, plus the few the system makes itself (event stream,
// dead letters, futures). Passivation keeps it near the active rooms.
func CountActors(system *actor.ActorSystem) int {
	n := 0
	for _, bucket := range system.ProcessRegistry.LocalPIDs.LocalPIDs {
		n += bucket.Count()
	}
	return n
}
