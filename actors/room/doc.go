// Package room is the room actor: one per conversation room, owning the
// room's record (platform_chat_id, staged attachments, saved contexts), its
// agent connection and the turn in progress. Turns run strictly one after
// another; messages that arrive meanwhile wait in a bounded queue.
//
// Concurrency contract: the actor's state is touched only inside Receive,
// which never blocks: the agent's stream, Matrix sends and record writes
// run in tasks (kit.RunTask) bound to the actor's context, and their
// results come back as messages. Record writes are ordered by
// kit.RecordWrites, so the newest snapshot wins even across a crash. A
// room reports to its parent (a user actor, or whatever spawned it) with
// actors.RoomUpdated and kit.StagingEnded.
//
// The flows are mapped in ../doc.go.
package room
