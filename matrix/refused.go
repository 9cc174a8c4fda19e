package matrix

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"maunium.net/go/mautrix"
)

// Dendrite answers some requests about an invite before its roomserver has
// caught up with it, and refuses them although they are right: a join as
// not allowed ("InputWasRejected"), a decline as coming from someone who
// "is not a member of room". A person's client shows the error and the
// person taps again; the bot does what the person would, a few times.

// refusedTries is how many times a request the homeserver refused for want
// of the invite is sent in all; the pauses between them start at
// refusedPause and double (0.1 + 0.2 + 0.4 + 0.8 s, about 1.5 s of waiting
// beside the requests' own time). A variable for tests.
var (
	refusedTries = 5
	refusedPause = 100 * time.Millisecond
)

// untilAccepted calls do until it succeeds, returns an error that lagging
// does not call the homeserver's lag, or has been called refusedTries
// times; it returns do's last error. It stops waiting when ctx ends.
func untilAccepted(ctx context.Context, lagging func(error) bool, do func() error) error {
	pause := refusedPause
	for try := 1; ; try++ {
		err := do()
		if err == nil || try == refusedTries || !lagging(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause *= 2
	}
}

// joinNotHeldYet reports Dendrite's refusal of a join to a room whose
// invite its roomserver does not hold yet.
func joinNotHeldYet(err error) bool {
	return errors.Is(err, mautrix.MForbidden) && strings.Contains(err.Error(), "InputWasRejected")
}

// declineNotHeldYet reports Dendrite's refusal of a leave from a room whose
// invite its roomserver does not hold yet: a 400 saying the bot "is not a
// member of room" (seen on Dendrite on PostgreSQL, where it left a refused
// user's invite pending until the next start).
func declineNotHeldYet(err error) bool {
	var httpErr mautrix.HTTPError
	if !errors.As(err, &httpErr) || httpErr.Response == nil || httpErr.Response.StatusCode != http.StatusBadRequest {
		return false
	}
	return strings.Contains(err.Error(), "not a member of room")
}
