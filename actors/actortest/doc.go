// Package actortest is the actor test kit of Surfaces (the pinned
// protoactor-go has none): a Probe that sends, requests and asserts on
// messages with deadlines, and fakes of the ports actors/ declares that
// record what they were asked.
//
// The fakes are for unit tests of one actor; tests of the whole bot use the
// real ports. Everything here is safe for concurrent use, and works inside a
// testing/synctest bubble, where the deadlines run in virtual time.
package actortest
