package kit

import "sync"

// Carry hands what a crashed incarnation of an actor leaves (its waiting
// messages, its grains' links) to the next incarnation. The producer of
// the actor's Props makes one Carry per actor and gives it to every
// incarnation: Restarting puts, Started takes. protoactor invokes Started
// on the next incarnation before it handles anything waiting in the
// mailbox, so the next incarnation holds what it inherits before the first
// message that needs it, such as a grain's ack that arrived while the
// actor restarted. A message to self would queue behind those, and the
// ack would reach an incarnation that did not know the grain yet.
//
// Restarting and Started run on the actor's own goroutine, one after the
// other; the lock only keeps a Carry safe if an incarnation is started on
// another goroutine after a stop (Props reused).
type Carry[T any] struct {
	mu sync.Mutex
	v  *T
}

// Put keeps v for the next incarnation, replacing what a crash before
// left untaken.
func (c *Carry[T]) Put(v *T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.v = v
}

// Take returns what the last incarnation left, or nil when it did not
// crash, and forgets it.
func (c *Carry[T]) Take() *T {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.v
	c.v = nil
	return v
}
