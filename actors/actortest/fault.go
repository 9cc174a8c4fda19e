package actortest

import "github.com/asynkron/protoactor-go/actor"

// Crash is a message that makes an actor wrapped with CrashOnCrash panic; it
// is never delivered to the actor itself.
type Crash struct {
	// Reason is what the actor panics with (the SupervisorEvent's Reason).
	Reason string
}

// CrashOnCrash is receiver middleware for fault injection: a *Crash message
// makes the actor panic inside its Receive, as a bug would, so its supervisor
// handles the failure. Add it to actors.Options.RoomMiddleware.
func CrashOnCrash(next actor.ReceiverFunc) actor.ReceiverFunc {
	return PanicOn(func(msg any) (any, bool) {
		if c, ok := msg.(*Crash); ok {
			return c.Reason, true
		}
		return nil, false
	})(next)
}

// PanicOn returns receiver middleware that panics with the value match
// returns when match reports true for a message; other messages pass through.
func PanicOn(match func(msg any) (reason any, ok bool)) actor.ReceiverMiddleware {
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			if reason, ok := match(env.Message); ok {
				panic(reason)
			}
			next(c, env)
		}
	}
}
