package actors

import (
	"context"
	"errors"

	"github.com/asynkron/protoactor-go/actor"
)

// The constructors below let a test (or a tool) spawn one room actor or one
// user actor on its own, with whatever parent it likes: the actor works the
// same as inside the tree. A room actor reports RoomUpdated to its parent; a
// user actor supervises its room actors (restarting a crashed one alone).
// actortest.Kit wraps them with fakes of every port.

// NewRoomProps returns the props of the room actor of rec.RoomID. The actor
// loads its record from deps.Store when it starts and falls back to rec when
// the Store has none. ctx carries the zerolog logger; its cancellation is not
// inherited (see NewRootProps).
func NewRoomProps(ctx context.Context, deps Deps, opts Options, rec RoomRecord) (*actor.Props, error) {
	if err := deps.Validate(); err != nil {
		return nil, err
	}
	if rec.RoomID == "" {
		return nil, errors.New("actors: a room actor needs a room id")
	}
	opts = opts.WithDefaults()
	return newRoomProps(context.WithoutCancel(ctx), Prepare(deps), &opts, rec), nil
}

// NewUserProps returns the props of the user actor of userID, which loads the
// user's record and rooms from deps.Store when it starts.
func NewUserProps(ctx context.Context, deps Deps, opts Options, userID string) (*actor.Props, error) {
	if err := deps.Validate(); err != nil {
		return nil, err
	}
	if userID == "" {
		return nil, errors.New("actors: a user actor needs a user id")
	}
	opts = opts.WithDefaults()
	return newUserProps(context.WithoutCancel(ctx), Prepare(deps), &opts, userID), nil
}
