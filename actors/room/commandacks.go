package room

import (
	"slices"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/surfaces-bot/surfaces/actors"
)

// A room command's event is acked once the command's effect is durable, as
// a message's is once its record holds it: a kill before that has the
// homeserver deliver the command again, so it is run again rather than lost
// (issue 19, point 3). A command whose effect is written (!clear, !load,
// !agent, !rename, !archive, !save, !remove, !retry) puts its event id in
// RoomRecord.Taken with that write, so a second delivery of a command that
// did land is dropped (takenBefore), and the write acks it. A command with
// no durable effect (!context, !usage, !list, !stop, !yes, !no, a refusal,
// a failure told to the user) is acked once decided.
//
// A command that goes on in a task is held in commands until its result
// comes back; a crash of the room actor meanwhile hands it to the successor,
// which runs it again (issue 19, point 2): a !clear in flight is not lost,
// and the next message does not go to the old conversation.

// command runs m unless the room took it before (a second delivery).
func (a *roomActor) command(c actor.Context, m *actors.RunCommand) {
	if a.takenBefore(m.EventID) {
		a.ackTaken(c, m.Ack)
		return
	}
	a.commands = append(a.commands, m)
	a.running, a.awaited = m, false
	a.runCommand(c, m)
	a.running = nil
	if !a.awaited {
		a.commandDone(m.EventID, false)
	}
}

// commandAwaits notes that the running command goes on in a task and
// returns its event id, for the task's result to carry to commandDone.
func (a *roomActor) commandAwaits() string {
	if a.running == nil {
		return ""
	}
	a.awaited = true
	return a.running.EventID
}

// commandWritten is commandDone(written) for the running command, from
// inside runCommand, before the write that carries its effect.
func (a *roomActor) commandWritten() {
	if a.running != nil {
		a.commandDone(a.running.EventID, true)
	}
}

// commandDone ends the command of eventID. With written, its effect goes
// with the record write the caller makes next: its event id is taken and
// its ack waits for that write. Otherwise it is acked now. A command
// already done (or of an earlier incarnation) is left alone.
func (a *roomActor) commandDone(eventID string, written bool) {
	i := slices.IndexFunc(a.commands, func(m *actors.RunCommand) bool { return m.EventID == eventID })
	if i < 0 {
		return
	}
	m := a.commands[i]
	a.commands = slices.Delete(a.commands, i, i+1)
	if !written {
		m.Ack.Done()
		return
	}
	a.rec.Taken = actors.Took(a.rec.Taken, m.EventID)
	a.acks = append(a.acks, m.Ack)
}
