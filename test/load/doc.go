// Package load drives many users at the bot at once and measures what they
// see: it starts a Dendrite, the reference agent and the bot on loopback
// (test/harness), registers and onboards the users, gives each some chats
// and sends turns in all of them at a set pace, while two more users
// message each other to measure the homeserver's own user-to-user latency
// in the same window (the floor a relay cannot beat). cmd/load is its
// command line; its smoke test runs a few users in CI.
//
// Concurrency: Run owns everything it starts; each user runs in its own
// goroutine and reports its turns into a mutex-guarded collector. Nothing
// here is a timed test: the numbers are printed, never asserted, except
// that every reply arrives, once.
package load
