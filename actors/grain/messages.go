package grain

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
	"github.com/surfaces-bot/surfaces/actors/wire"
)

// Deliver is an owner's message for a grain: the root's for a user's
// grain (UserID set), a user actor's for one of its rooms (Record set).
// At most one message field is set; none wakes the grain (a room starts,
// and reports a turn a stop cut off).
type Deliver struct {
	// Owner is the root or the user actor: the grain's reports and acks
	// go there.
	Owner *actor.PID
	// Record is the room as the user actor knows it; the room reads its
	// own when it starts and uses this one only if the store has none.
	Record actors.RoomRecord
	// UserID is the user whose actor a user grain runs.
	UserID string `json:",omitempty"`
	// Seq, when not 0, numbers a message whose event waits for its Ack:
	// the grain answers Reported{Acked: Seq} when its actor acks it.
	Seq uint64
	// Handover asks the grain to hand its actor over and stop, as when it
	// moves (its owner moves: see Links.Close).
	Handover bool `json:",omitempty"`

	// For a room.
	Turn     *actors.StartTurn        `json:",omitempty"`
	File     *actors.StageFile        `json:",omitempty"`
	Command  *actors.RunCommand       `json:",omitempty"`
	Reaction *actors.ReactionReceived `json:",omitempty"`
	// For a user (and Reaction).
	Invite   *actors.InviteReceived  `json:",omitempty"`
	Received *actors.MessageReceived `json:",omitempty"`
	Skipped  *actors.MessagesSkipped `json:",omitempty"`
	Wake     *actors.WakeRoom        `json:",omitempty"`
}

// NewDeliver returns the Deliver of msg (nil: a wake) for the grain of
// room rec. msg is copied without its Ack, which stays with the sender.
func NewDeliver(owner *actor.PID, rec actors.RoomRecord, seq uint64, msg any) *Deliver {
	d := &Deliver{Owner: owner, Record: rec, Seq: seq}
	d.carry(msg)
	return d
}

// NewUserDeliver returns the Deliver of msg for the grain of userID's
// actor; msg is copied without its Ack.
func NewUserDeliver(owner *actor.PID, userID string, seq uint64, msg any) *Deliver {
	d := &Deliver{Owner: owner, UserID: userID, Seq: seq}
	d.carry(msg)
	return d
}

func (d *Deliver) carry(msg any) {
	switch m := actors.WithAck(msg, nil).(type) {
	case *actors.StartTurn:
		d.Turn = m
	case *actors.StageFile:
		d.File = m
	case *actors.RunCommand:
		d.Command = m
	case *actors.ReactionReceived:
		d.Reaction = m
	case *actors.InviteReceived:
		d.Invite = m
	case *actors.MessageReceived:
		d.Received = m
	case *actors.MessagesSkipped:
		d.Skipped = m
	case *actors.WakeRoom:
		d.Wake = m
	}
}

// Message returns the message d carries with ack as its Ack (nil for a
// wake).
func (d *Deliver) Message(ack *actors.Ack) any {
	var m any
	switch {
	case d.Turn != nil:
		m = d.Turn
	case d.File != nil:
		m = d.File
	case d.Command != nil:
		m = d.Command
	case d.Reaction != nil:
		m = d.Reaction
	case d.Invite != nil:
		m = d.Invite
	case d.Received != nil:
		m = d.Received
	case d.Skipped != nil:
		m = d.Skipped
	case d.Wake != nil:
		return d.Wake
	default:
		return nil
	}
	return actors.WithAck(m, ack)
}

// Reported is what a grain tells its owner: one of the fields is set.
type Reported struct {
	// ID is the grain's identity: its room id, or its user id.
	ID string
	// Acked is the Seq of a Deliver whose message the grain's actor acked.
	Acked uint64 `json:",omitempty"`
	// Updated is the room's record, stored (actors.RoomUpdated).
	Updated *actors.RoomRecord `json:",omitempty"`
	// Staged says the room finished receiving a file.
	Staged *kit.StagingEnded `json:",omitempty"`
	// Idle asks the owner to stop the idle grain (see kit.ChildIdle).
	Idle *kit.ChildIdle `json:",omitempty"`
	// From is the activation that sent it (Activation of its PID): an
	// idle report of an earlier activation that arrives late must not
	// stop the one the owner placed since.
	From string `json:",omitempty"`
}

// Activation names a grain's activation by its PID: the member's address
// and the actor's id.
func Activation(pid *actor.PID) string {
	if pid == nil {
		return ""
	}
	return pid.Address + "/" + pid.Id
}

// Serialize implements remote.RootSerializable.
func (d *Deliver) Serialize() (remote.RootSerialized, error) { return wire.Encode(d) }

// Serialize implements remote.RootSerializable.
func (r *Reported) Serialize() (remote.RootSerialized, error) { return wire.Encode(r) }

func init() {
	wire.Register("grain.Deliver", (*Deliver)(nil))
	wire.Register("grain.Reported", (*Reported)(nil))
}
