package grain

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
	"github.com/surfaces-bot/surfaces/actors/wire"
)

// Deliver is a user actor's message for the grain of one of its rooms.
// At most one of Turn, File, Command and Reaction is set; none wakes the
// room (it starts, and reports a turn a stop cut off).
type Deliver struct {
	// Owner is the user actor: the room's reports and acks go there.
	Owner *actor.PID
	// Record is the room as the user actor knows it; the room reads its
	// own when it starts and uses this one only if the store has none.
	Record actors.RoomRecord
	// Seq, when not 0, numbers a message whose event waits for its Ack:
	// the grain answers Reported{Acked: Seq} when the room acks it.
	Seq uint64

	Turn     *actors.StartTurn        `json:",omitempty"`
	File     *actors.StageFile        `json:",omitempty"`
	Command  *actors.RunCommand       `json:",omitempty"`
	Reaction *actors.ReactionReceived `json:",omitempty"`
}

// NewDeliver returns the Deliver of msg (nil: a wake). msg is copied
// without its Ack, which stays with the sender.
func NewDeliver(owner *actor.PID, rec actors.RoomRecord, seq uint64, msg any) *Deliver {
	d := &Deliver{Owner: owner, Record: rec, Seq: seq}
	switch m := msg.(type) {
	case *actors.StartTurn:
		c := *m
		c.Ack = nil
		d.Turn = &c
	case *actors.StageFile:
		c := *m
		c.Ack = nil
		d.File = &c
	case *actors.RunCommand:
		c := *m
		c.Ack = nil
		d.Command = &c
	case *actors.ReactionReceived:
		c := *m
		c.Ack = nil
		d.Reaction = &c
	}
	return d
}

// Message returns the message d carries with ack as its Ack (nil for a
// wake).
func (d *Deliver) Message(ack *actors.Ack) any {
	switch {
	case d.Turn != nil:
		m := *d.Turn
		m.Ack = ack
		return &m
	case d.File != nil:
		m := *d.File
		m.Ack = ack
		return &m
	case d.Command != nil:
		m := *d.Command
		m.Ack = ack
		return &m
	case d.Reaction != nil:
		m := *d.Reaction
		m.Ack = ack
		return &m
	}
	return nil
}

// Reported is what a room grain tells its user actor: one of the fields
// is set.
type Reported struct {
	RoomID string
	// Acked is the Seq of a Deliver whose message the room acked.
	Acked uint64 `json:",omitempty"`
	// Updated is the room's record, stored (actors.RoomUpdated).
	Updated *actors.RoomRecord `json:",omitempty"`
	// Staged says the room finished receiving a file.
	Staged *kit.StagingEnded `json:",omitempty"`
	// Idle asks the user actor to stop the idle grain (see kit.ChildIdle).
	Idle *kit.ChildIdle `json:",omitempty"`
}

// Serialize implements remote.RootSerializable.
func (d *Deliver) Serialize() (remote.RootSerialized, error) { return wire.Encode(d) }

// Serialize implements remote.RootSerializable.
func (r *Reported) Serialize() (remote.RootSerialized, error) { return wire.Encode(r) }

func init() {
	wire.Register("grain.Deliver", (*Deliver)(nil))
	wire.Register("grain.Reported", (*Reported)(nil))
}
