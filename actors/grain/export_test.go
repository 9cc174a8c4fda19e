package grain

import "time"

// SetEmptyHostWait sets how long a grain may go without an actor, until
// the test ends (t.Cleanup(restore)).
func SetEmptyHostWait(d time.Duration) (restore func()) {
	old := emptyHostWait
	emptyHostWait = d
	return func() { emptyHostWait = old }
}
