// Package actortest is the actor test kit of Surfaces: everything needed to
// test one actor of the tree, or the whole tree, against fakes of its ports,
// on a real protoactor ActorSystem. (The pinned protoactor-go has no test kit
// of its own.)
//
// # Starting
//
// A test makes a Kit inside testing/synctest, so every timer of the actors
// (edit throttling, typing refresh, agent idle timeouts) runs in virtual time
// and a wait that passes costs nothing:
//
//	func TestReply(t *testing.T) {
//		synctest.Test(t, func(t *testing.T) {
//			kit := actortest.NewKit(t)
//			room := kit.SpawnRoom(actortest.Room("@alice:example.test", "!room", "42", 1))
//			mark := kit.Matrix.Mark()
//			kit.Probe.Send(room, &actors.StartTurn{EventID: "$1", Text: "hello"})
//			turn := kit.NextTurn(kit.NextConn())
//			turn.Emit(actortest.Text("hi"), actortest.End(0))
//			kit.WaitCall(mark, "SendText", "!room", "hi")
//		})
//	}
//
// NewKit builds the ActorSystem, a Probe, and a fake of every port: Store (in
// memory, held to the same contract as the Badger store by
// RunStoreContract), Matrix (records every call), Agents (each dial is a Conn
// whose turns the test drives with Turn.Emit) and Registry. Everything is
// stopped by t.Cleanup. Three ways to spawn:
//
//   - Kit.SpawnRoom: one room actor alone, as a child of the probe;
//   - Kit.SpawnUser: one user actor alone (with the room actors it spawns);
//   - Kit.SpawnTree: the root and everything under it.
//
// Set Kit.Options (queue size, edit interval, middleware…) before spawning.
//
// # Asserting
//
// The Probe is an actor the test controls. Send gives the probe as sender, so
// replies come back to it; messages an actor sends to its parent come to it
// when it spawned the actor (SpawnChild). Its expectations all have
// deadlines (DefaultTimeout, or the enclosing Within block) and fail the test
// with what was awaited:
//
//   - ExpectMsg, ExpectMsgType, FishForMsg, Receive, ReceiveN, ReceiveEnvelope
//     and Reply (to a request's sender);
//   - ExpectNoMsg: nothing arrived by the end of a (virtual) interval;
//   - Watch and ExpectTerminated;
//   - ExpectRestart and ExpectSupervision: what the supervisor did after a
//     panic (inject one with CrashOnCrash or PanicOn middleware); what
//     survived is then asked of the restarted actor or its ports;
//   - ExpectDeadLetter: a message that could not be delivered;
//   - Within(d, f): f finished within d.
//
// Events published on the EventStream (TurnEnded, RoomRestarted…) reach the
// probe through Probe.Subscribe.
//
// # Rules that keep assertions honest
//
//   - A wait on the Matrix fake takes a Mark made before the step under test,
//     so a call from an earlier step never satisfies it.
//   - "Nothing happened" is checked after synctest.Wait, without a timer:
//     Conn.TryNextTurn, Agents.TryNextConn, ExpectNoMsg(0).
//   - A message and a deadline at the same instant: the message wins.
//   - Time moves with Advance, never with time.Sleep in the test.
//
// # Concurrency
//
// The fakes are safe for concurrent use by actors and the test. A Probe and
// a Kit are driven from the test's goroutine: their Expect methods call
// t.Fatalf, which must run there.
package actortest
