// Package kit holds what more than one kind of actor of the tree uses and
// no caller outside the tree needs: tasks (RunTask, the way an actor does
// network and disk work without blocking Receive), passivation (IdleClock,
// Children), the order of record writes (RecordWrites), the Store that
// reserves chat ids on the homeserver (ReservingStore), the deps the
// actors hold (Deps, Prepare), the messages between kinds
// (StagingEnded), and what a crashed incarnation hands the next (Carry).
//
// Concurrency contract: RunTask's function runs on a goroutine of its own
// and must not touch actor state; its result is sent to the actor. Deps,
// RecordWrites and ReservingStore are safe for concurrent use; IdleClock and
// Children belong to one actor and are used only inside its Receive; a
// Carry is shared by one actor's incarnations.
package kit
