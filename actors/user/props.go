package user

import (
	"context"
	"errors"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// NewProps returns the props of the user actor of userID, which loads the
// user's record and rooms from deps.Store when it starts.
func NewProps(ctx context.Context, deps actors.Deps, opts actors.Options, userID string) (*actor.Props, error) {
	if err := deps.Validate(); err != nil {
		return nil, err
	}
	if userID == "" {
		return nil, errors.New("actors: a user actor needs a user id")
	}
	opts = opts.WithDefaults()
	return NewPropsWith(context.WithoutCancel(ctx), kit.Prepare(deps), &opts, userID), nil
}
