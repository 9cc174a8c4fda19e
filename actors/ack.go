package actors

import (
	"slices"
	"sync"
)

// Ack tells the Matrix side that the tree is done with an event: what it
// caused is durable (a room wrote the message into its record, as its queue
// or its running turn) or it was decided and needs no write (a command, a
// reaction, an event dropped by policy). The sync loop stores its position
// past an event only once the event is acked, so a crash before that makes
// the homeserver deliver it again instead of losing it (PRODUCT R3.2,
// R7.2); a room drops such a second delivery of an event it already took
// (RoomRecord.Taken).
//
// An Ack travels with its event through every actor that holds the event
// (pending buffers, parked messages, a crashed actor's hand-over) and is
// called by the one that decides. Done may be called from any goroutine,
// more than once (only the first call counts), and on a nil *Ack.
type Ack struct {
	once sync.Once
	done func()
}

// NewAck returns an Ack that calls done once, on its first Done.
func NewAck(done func()) *Ack { return &Ack{done: done} }

// Done acks the event.
func (a *Ack) Done() {
	if a == nil || a.done == nil {
		return
	}
	a.once.Do(a.done)
}

// AckOf returns the Ack an event message carries, nil for other messages.
func AckOf(msg any) *Ack {
	switch m := msg.(type) {
	case *InviteReceived:
		return m.Ack
	case *MessageReceived:
		return m.Ack
	case *ReactionReceived:
		return m.Ack
	case *MessagesSkipped:
		return m.Ack
	case *DeviceChanged:
		return m.Ack
	case *StartTurn:
		return m.Ack
	case *StageFile:
		return m.Ack
	case *RunCommand:
		return m.Ack
	}
	return nil
}

// WithAck returns a copy of msg whose Ack is ack, for the messages AckOf
// knows; any other msg is returned as it is.
func WithAck(msg any, ack *Ack) any {
	switch m := msg.(type) {
	case *InviteReceived:
		c := *m
		c.Ack = ack
		return &c
	case *MessageReceived:
		c := *m
		c.Ack = ack
		return &c
	case *ReactionReceived:
		c := *m
		c.Ack = ack
		return &c
	case *MessagesSkipped:
		c := *m
		c.Ack = ack
		return &c
	case *DeviceChanged:
		c := *m
		c.Ack = ack
		return &c
	case *StartTurn:
		c := *m
		c.Ack = ack
		return &c
	case *StageFile:
		c := *m
		c.Ack = ack
		return &c
	case *RunCommand:
		c := *m
		c.Ack = ack
		return &c
	}
	return msg
}

// MaxTaken bounds RoomRecord.Taken: the homeserver delivers again at most
// the events of the sync responses whose acks a crash cut off.
const MaxTaken = 64

// Took records eventID in taken (the newest last, at most MaxTaken).
func Took(taken []string, eventID string) []string {
	if eventID == "" || slices.Contains(taken, eventID) {
		return taken
	}
	taken = append(taken, eventID)
	if over := len(taken) - MaxTaken; over > 0 {
		taken = append(taken[:0:0], taken[over:]...)
	}
	return taken
}
