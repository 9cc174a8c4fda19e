// Package grain runs room actors as protoactor-go grains, so that every
// member of a cluster serves a share of the rooms (issue 24).
//
// A room's grain (kind "room", identity the room id) is a host actor that
// the cluster activates on the member the room's id hashes to. The host
// spawns the room actor of package room as its child, on the first
// Deliver, and stands between it and the room's user actor, which stays
// on the member holding the ingress: the user actor's messages come in a
// Deliver, and what the room tells its parent (RoomUpdated, a file staged,
// idle) goes back in a Reported. Both cross members through package wire.
//
// An event's Ack cannot cross members, so a Deliver carries a sequence
// number instead and the room's Ack sends Reported{Acked} back to the user
// actor, which calls the event's own Ack. Until then the user actor keeps
// the message: if the grain ends without being asked to (its member died,
// or the room moved to another member), the user actor wakes the room on
// the member it is placed on now and sends it again; the room's Taken list
// drops what it already took.
//
// Concurrency: a host's state is touched only in its Receive; the Ack it
// makes may be called from any goroutine (it only sends a message). Placer
// blocks; callers run it in a task.
package grain
