package actortest

import (
	"fmt"
	"github.com/surfaces-bot/surfaces/test/wait"
	"sync"
	"time"
)

// queue is an unbounded FIFO that wakes waiters. The probe's actor and the
// event stream push into it; a bounded channel would block them (and with
// them the actor system) when a test does not read what it receives.
type queue struct {
	mu     sync.Mutex
	items  []any
	notify chan struct{}
}

func newQueue() *queue { return &queue{notify: make(chan struct{})} }

func (q *queue) push(v any) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, v)
	close(q.notify)
	q.notify = make(chan struct{})
}

// take removes and returns the first item; with match set, items before the
// first matching one are discarded too. When nothing matches it returns the
// channel that is closed at the next push, read under the same lock, so a
// push between take and the wait cannot be missed.
func (q *queue) take(match func(any) bool) (v any, ok bool, wake <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) > 0 {
		v, q.items = q.items[0], q.items[1:]
		if match == nil || match(v) {
			return v, true, nil
		}
	}
	return nil, false, q.notify
}

// len is the number of items waiting.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// await takes the next item that satisfies match (nil: any) within timeout.
// When the deadline and an item come at the same instant the item wins, so
// the outcome never depends on which of two ready select cases Go picks: at
// the deadline it looks once more, after letting a synctest bubble's other
// goroutines finish what they do at that instant.
func (q *queue) await(timeout time.Duration, match func(any) bool) (any, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		v, ok, wake := q.take(match)
		if ok {
			return v, nil
		}
		select {
		case <-wake:
		case <-timer.C:
			wait.Settle()
			if v, ok, _ := q.take(match); ok {
				return v, nil
			}
			return nil, fmt.Errorf("nothing within %v", timeout)
		}
	}
}
