package user

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/grain"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// NewKinds returns the kinds of grains a member of a cluster hosts (issue
// 24): users' actors and rooms' actors, sharing this member's pacer, chat
// id reservations and record writes. deps.Placer is how the users' actors
// reach their rooms. ctx carries the logger; its cancellation is not
// inherited (see root.NewProps).
func NewKinds(ctx context.Context, deps actors.Deps, opts actors.Options) ([]*cluster.Kind, error) {
	if err := deps.Validate(); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults()
	d := kit.PrepareTree(deps, &opts)
	return []*cluster.Kind{
		grain.NewHostKind(ctx, d, &opts, grain.RoomChild()),
		grain.NewHostKind(ctx, d, &opts, Child()),
	}, nil
}

// handoverMargin is how much longer than its rooms a moving user's actor
// may take to hand over: the round trips of their hand-over and their end.
const handoverMargin = 10 * time.Second

// Child hosts a user's actor in a grain of kind actors.UserKind.
func Child() grain.Child {
	return grain.Child{
		Kind:   actors.UserKind,
		LogKey: "user_id",
		ID:     func(d *grain.Deliver) string { return d.UserID },
		// The rooms it hands over get HandoverGrace each, from about the
		// same moment: the user's actor outwaits them, so that its next
		// activation never wakes a room still running on its old member.
		Grace: func(opts *actors.Options) time.Duration { return opts.HandoverGrace + handoverMargin },
		Props: func(base context.Context, deps *kit.Deps, opts *actors.Options, d *grain.Deliver) *actor.Props {
			return NewPropsWith(base, deps, opts, d.UserID)
		},
	}
}
