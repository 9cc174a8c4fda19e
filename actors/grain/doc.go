// Package grain runs users' and rooms' actors as protoactor-go grains, so
// that every member of a cluster serves a share of them (issue 24).
//
// A grain (kind actors.UserKind or actors.RoomKind, identity the user or
// room id) is a host actor that the cluster activates on the member the id
// hashes to. On the first Deliver the host spawns the actor it hosts as
// its child (Child says how: RoomChild for package room, user.Child for
// package user), and stands between it and its owner: the root on the
// member holding the ingress owns the users' grains, a user actor owns its
// rooms'. The owner's messages come in a Deliver, and what the actor tells
// its parent (a room's RoomUpdated, a file staged, idle) goes back in a
// Reported. Both cross members through package wire.
//
// An event's Ack cannot cross members, so a Deliver carries a sequence
// number instead and the actor's Ack sends Reported{Acked} back to the
// owner, which calls the event's own Ack. Until then the owner's Links
// keep the message: if the grain ends without being asked to (its member
// died, or it moved to another member), Links place it again and send it
// again; a room's Taken list drops what it already took. So an event is
// acked to the homeserver only once a room's record holds it, however many
// members it crossed.
//
// A grain the cluster moves (a member joined) hands over: a room finishes
// its turn, a user actor its onboarding, within Options.HandoverGrace.
//
// Concurrency: a host's state is touched only in its Receive, Links only
// in its owner's; the Ack a host makes may be called from any goroutine
// (it only sends a message). Placer is safe for concurrent use and blocks;
// callers run it in a task.
package grain
