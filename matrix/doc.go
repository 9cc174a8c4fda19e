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
//
// End-to-end encryption (crypto.go, syncer_crypto.go; PRODUCT R10) runs on
// mautrix's own machinery: the Olm machine decrypts timeline events before
// they become actor messages, and mautrix encrypts whatever the bot sends
// into a room the state store knows is encrypted. The keys live in
// mautrix's SQL crypto store (with its room-state store) in one SQLite file
// inside the state directory, opened with the pure-Go modernc driver, so
// the binary stays cgo-free and static. That store was chosen over
// implementing crypto.Store on Badger, by the evidence:
//
//   - correctness under a crash: every write of the SQL store is one SQLite
//     transaction (WAL, synchronous=FULL), the same code mautrix's bridges
//     run in production; a Badger implementation would have to get some 60
//     methods' semantics (Olm session ordering, the message-index replay
//     check, key withheld and backup state) right on its own;
//   - upgrade path: mautrix ships the store's schema migrations, run at
//     every start (Upgrade); on Badger each schema change would be ours;
//   - lines we own: about 40 to open the file and wire the machine, against
//     well over a thousand for a Badger crypto.Store and its tests.
//
// The crypto store shares the state directory's fate on purpose: losing
// the directory means a new device (a new login), announced in the
// encrypted rooms the bot is in.
package matrix
