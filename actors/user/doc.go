// Package user is the user actor: one per Matrix user, supervising that
// user's room actors (package room). It onboards the user (a Space and a
// first chat), checks access and the rate limit, runs the user-scoped
// commands (!new, !chats…), keeps the quotas, and hands each message to
// the room it was sent in.
//
// Concurrency contract: as for every actor of the tree, state is touched
// only inside Receive, which never blocks; provisioning and record reads
// run in tasks whose results come back as messages. A crashed room actor
// is restarted alone, with the messages it had queued handed over; a
// stopping one has its messages parked (kit.Children) and handed to the
// next incarnation.
//
// The flows are mapped in ../doc.go.
package user
