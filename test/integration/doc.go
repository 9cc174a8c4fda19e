// Package integration tests the actor tree with its real ports — Badger in
// a temp dir, the WebSocket agent client, the reference agent — and only
// Matrix faked, for behaviour that needs many agent misbehaviours that a
// homeserver adds nothing to.
package integration
