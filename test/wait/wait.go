// Package wait holds the channel receive every test of this module uses
// instead of a bare <-ch: it has a deadline and, when it runs out, a failure
// that says what was awaited.
//
// The deadline only stops a broken test from hanging; nothing asserts on
// time, so it is generous: it costs nothing when the test passes. Inside a
// testing/synctest bubble it is virtual time. Safe for concurrent use; the
// failure calls t.Fatalf, so call it from the test's goroutine.
package wait

import (
	"testing"
	"testing/synctest"
	"time"
)

// Guard is how long Recv waits before failing the test.
const Guard = 30 * time.Second

// Recv returns the next value on ch, failing t with what was awaited if none
// comes within Guard.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	v, _ := RecvOK(t, ch, what)
	return v
}

// RecvOK is Recv that also reports whether ch is still open (false once it
// is closed and drained). When the guard fires it settles a synctest bubble
// and looks at ch once more without blocking, so a value that arrives at the
// same instant as the deadline (which happens in virtual time) never fails
// the test.
func RecvOK[T any](t testing.TB, ch <-chan T, what string) (T, bool) {
	t.Helper()
	guard := time.NewTimer(Guard)
	defer guard.Stop()
	select {
	case v, ok := <-ch:
		return v, ok
	case <-guard.C:
	}
	Settle()
	select {
	case v, ok := <-ch:
		return v, ok
	default:
	}
	t.Fatalf("waited %s for %s", Guard, what)
	var zero T
	return zero, false
}

// InBubble reports whether the caller runs in a testing/synctest bubble.
// There is no API for it: synctest.Wait panics outside a bubble, and inside
// one it only waits for the bubble's other goroutines to block.
func InBubble() (in bool) {
	defer func() {
		if recover() != nil {
			in = false
		}
	}()
	synctest.Wait()
	return true
}

// Settle, inside a synctest bubble, returns once every other goroutine of
// the bubble is blocked, so what they do at the current virtual instant has
// happened; outside a bubble it returns at once. A wait calls it at its
// deadline before looking a last time, so a value sent at that very instant
// is seen whichever goroutine the scheduler ran first.
func Settle() { InBubble() }
