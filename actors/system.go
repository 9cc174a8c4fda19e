package actors

import (
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
)

// RootName is the name the root actor is spawned under.
const RootName = "surfaces"

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

// ActorCount is how many processes of each kind a system's registry holds.
type ActorCount struct {
	// Users and Rooms are the user and room actors of the tree.
	Users, Rooms int
	// Other is the rest: the root, the reconciliation actor, and the
	// processes the system makes itself (event stream, futures…).
	Other int
}

// CountActorsByKind is CountActors by kind, told apart by the actors' ids
// (RootName/user-<escaped id>, RootName/user-<escaped id>/room-<escaped
// id>; escaping leaves no "/" in an id). It visits every id once.
func CountActorsByKind(system *actor.ActorSystem) ActorCount {
	var n ActorCount
	for _, bucket := range system.ProcessRegistry.LocalPIDs.LocalPIDs {
		bucket.IterCb(func(id string, _ any) {
			rest, ok := strings.CutPrefix(id, RootName+"/user-")
			if !ok {
				// A grain's actor is the child "room" or "user" of its
				// host, which the cluster's placement actor spawned
				// (grain); a grain's identity ends in its server name.
				grained := strings.HasPrefix(id, GrainPlacementName+"/")
				switch {
				case grained && strings.HasSuffix(id, "/"+RoomKind):
					n.Rooms++
				case grained && strings.HasSuffix(id, "/"+UserKind):
					n.Users++
				default:
					n.Other++
				}
				return
			}
			user, room, nested := strings.Cut(rest, "/")
			switch {
			case user == "":
				n.Other++
			case !nested:
				n.Users++
			case strings.HasPrefix(room, "room-") && !strings.Contains(room, "/"):
				n.Rooms++
			default:
				n.Other++
			}
		})
	}
	return n
}

// GrainPlacementName is the name of the actor under which protoactor-go's
// cluster (disthash) spawns the grains a member hosts.
const GrainPlacementName = "partition-activator"

// RoomActorID is the process-registry id of the room actor for roomID of
// userID, for tools and tests that address one room directly.
func RoomActorID(userID, roomID string) string {
	return RootName + "/user-" + url.PathEscape(userID) + "/room-" + url.PathEscape(roomID)
}
