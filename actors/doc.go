// Package actors is the actor tree of Surfaces on protoactor-go.
//
// A Root actor routes Matrix events to one User actor per Matrix user (named
// by user id), which supervises one Room actor per conversation room. The
// Room actor owns the room's platform_chat_id, its staged attachments, its
// agent connection and the turn in progress; it runs turns strictly one after
// another and keeps later messages in a bounded queue.
//
// Concurrency contract: an actor's state is touched only inside its Receive.
// Receive never blocks: every network or disk call (the ports in ports.go)
// runs in a goroutine the actor owns, bound to a context cancelled when the
// actor stops, and its result comes back to the actor as a message. The
// ports are interfaces implemented by matrix/, agents/ and persistence/; this
// package never imports those packages, mautrix or Badger.
//
// Every Matrix event comes with an Ack (ack.go), which any goroutine may
// call. Exactly one actor calls it, once the event's fate is durable: a
// room after the record write that holds the message, a user actor once
// it decided (or, for onboarding and !new, once the rooms exist), the root
// when it drops the event. An Ack travels with its event through pending
// buffers, parked messages and a crashed actor's hand-over. The Matrix side
// stores its sync position only past acked events, so a crash before an
// ack has the event delivered again; RoomRecord.Taken keeps a room from
// taking it twice.
//
// # How a reply shows up
//
// The first text chunk sends the reply; later chunks edit it, at most
// Options.MaxEdits times, each edit waiting a little longer than the one
// before. Edits do not notify a user, so a turn that ran longer than
// Options.NotifyAfter does not end with a last edit: its preview is edited
// down to a one-line pointer and the final answer goes out as new messages,
// which notify with the answer's beginning. An edit to a pointer was chosen
// over a redaction because it needs no redaction power and leaves no
// "message deleted" placeholder; the full text is in the timeline once.
package actors
