// Package root is the root of the actor tree: it spawns start-up
// reconciliation first (package reconcile), holds every Matrix event until
// that reports, then routes each event to the user actor of its sender
// (package user), applying the invite policy before any per-user state
// exists. Spawn starts it in an actor system; NewProps is its props.
//
// Concurrency contract: the root's state is touched only inside Receive,
// which never blocks. It passivates idle user actors with kit.Children,
// parking their messages while they stop.
//
// The flows are mapped in ../doc.go.
package root
