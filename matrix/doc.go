// Package matrix is everything mautrix: login, the sync loop that turns
// Matrix events into actor messages, and the implementation of the actor
// tree's Matrix port (sending notices and replies, edits, typing, Spaces and
// rooms).
//
// Concurrency contract: a Client is safe for concurrent use by many actors'
// task goroutines (mautrix.Client is). Run drives one sync loop; events are
// handed to the Sink in timeline order from that loop's goroutine, and the
// Sink must not block (it sends to an actor's mailbox). Each event carries
// an actors.Ack that any goroutine may call; the sync position is stored
// from a goroutine of Run's once the acks of a response are in (see
// position), and CommitSync stores it from the caller's. Rate limiting by the
// homeserver (M_LIMIT_EXCEEDED, HTTP 429) is waited out by mautrix's retry
// logic, bounded by the caller's context.
package matrix
