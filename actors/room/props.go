package room

import (
	"context"
	"errors"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// The constructors below let a test (or a tool) spawn one room actor or one
// user actor on its own, with whatever parent it likes: the actor works the
// same as inside the tree. A room actor reports RoomUpdated to its parent; a
// user actor supervises its room actors (restarting a crashed one alone).
// actortest.Kit wraps them with fakes of every port.

// NewProps returns the props of the room actor of rec.RoomID. The actor
// loads its record from deps.Store when it starts and falls back to rec when
// the Store has none. ctx carries the zerolog logger; its cancellation is not
// inherited (see root.NewProps).
func NewProps(ctx context.Context, deps actors.Deps, opts actors.Options, rec actors.RoomRecord) (*actor.Props, error) {
	if err := deps.Validate(); err != nil {
		return nil, err
	}
	if rec.RoomID == "" {
		return nil, errors.New("actors: a room actor needs a room id")
	}
	opts = opts.WithDefaults()
	return NewPropsWith(context.WithoutCancel(ctx), kit.Prepare(deps), &opts, rec), nil
}
