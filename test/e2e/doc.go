// Package e2e holds the end-to-end tests: the built surfaces binary against
// a real Dendrite on loopback, driven by a person's Matrix client (mautrix
// through test/harness, never the bot's own code paths).
package e2e
