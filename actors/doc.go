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
