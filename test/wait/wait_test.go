package wait_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/surfaces-bot/surfaces/test/wait"
)

// TestRecv runs 20 times: a value sent at the very instant of the deadline
// must be received every time, not when the scheduler happens to run the
// sender first.
func TestRecv(t *testing.T) {
	for range 20 {
		testRecvOnce(t)
	}
}

func testRecvOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ch := make(chan int, 1)
		// A value that comes exactly at the deadline is received.
		time.AfterFunc(wait.Guard, func() { ch <- 7 })
		if got := wait.Recv(t, ch, "seven"); got != 7 {
			t.Fatalf("Recv = %d, want 7", got)
		}
		close(ch)
		if _, ok := wait.RecvOK(t, ch, "the close"); ok {
			t.Fatal("RecvOK on a closed channel reported it open")
		}
	})
}
