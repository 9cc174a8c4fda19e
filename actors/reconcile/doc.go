// Package reconcile rebuilds the tree's local records from what the
// homeserver holds (the Space topology and the bot's own state events) at
// start-up, and plans the same for `surfaces reconcile` (Run). PlanFor is
// the pure part: what to write, from what was found; reconcile.go reads,
// applies the plan and reports actors that must be woken (UsersLoaded).
//
// Concurrency contract: the reconciliation actor does all its reading and
// writing in one task and reports to its parent with one message; Run and
// PlanFor are plain functions, safe to call from any goroutine.
//
// The flows are mapped in ../doc.go.
package reconcile
