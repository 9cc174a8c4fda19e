package kit

import (
	"sync"
	"sync/atomic"
)

// RecordWrites orders the writes of each room's record. A room actor issues a
// write for every change at once, from Receive, and the write itself runs in
// a task; two tasks may race, and so may the last write of a crashed or
// stopped incarnation and the first of the next. Every write takes a ticket
// in Receive (so tickets follow the order of the changes) and the writer
// skips a write whose ticket is older than one already written: the newest
// snapshot always wins, and none is left waiting in memory when the actor
// stops.
type RecordWrites struct {
	rooms sync.Map // room id → *roomWriter
}

// RecordWriter orders the writes of one record (RecordWrites.Ticket).
type RecordWriter struct {
	issued atomic.Uint64
	// turn admits one write at a time. A channel rather than a mutex: a
	// writer waiting on it counts as blocked for testing/synctest, so tests
	// can hold a write and wait for everything else to settle.
	turn chan struct{}
	// written is the ticket of the newest snapshot written.
	written uint64
}

// NewRecordWrites returns a RecordWrites with no record written yet.
func NewRecordWrites() *RecordWrites { return &RecordWrites{} }

// Ticket returns the room's writer and the next ticket; call it from
// Receive, in the order of the changes.
func (w *RecordWrites) Ticket(roomID string) (*RecordWriter, uint64) {
	v, _ := w.rooms.LoadOrStore(roomID, &RecordWriter{turn: make(chan struct{}, 1)})
	rw := v.(*RecordWriter)
	return rw, rw.issued.Add(1)
}

// Write runs put for ticket unless a newer snapshot was written already;
// written is false when it was skipped.
func (rw *RecordWriter) Write(ticket uint64, put func() error) (written bool, err error) {
	rw.turn <- struct{}{}
	defer func() { <-rw.turn }()
	if ticket < rw.written {
		return false, nil
	}
	if err := put(); err != nil {
		return false, err
	}
	rw.written = ticket
	return true, nil
}
