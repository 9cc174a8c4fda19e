// Package actors is the vocabulary of Surfaces' actor tree on
// protoactor-go: the messages, the ports the tree works through, the
// records, the errors, and what every kind of actor and every port's
// implementation share (Ack, the send pacer, the actor system). The actors
// themselves are in its subpackages, one a kind (see Map).
//
// A Root actor routes Matrix events to one User actor per Matrix user (named
// by user id), which supervises one Room actor per conversation room. The
// Room actor owns the room's platform_chat_id, its staged attachments, its
// agent connection and the turn in progress; it runs turns strictly one after
// another and keeps later messages in a bounded queue.
//
// Concurrency contract: an actor's state is touched only inside its Receive.
// Receive never blocks: every network or disk call (the ports in ports.go)
// runs in a goroutine the actor owns, bound to a context cancelled when the
// actor stops, and its result comes back to the actor as a message. The
// ports are interfaces implemented by matrix/, agents/ and persistence/; this
// package never imports those packages, mautrix or Badger.
//
// Every Matrix event comes with an Ack (ack.go), which any goroutine may
// call. Exactly one actor calls it, once the event's fate is durable: a
// room after the record write that holds the message, a user actor once
// it decided (or, for onboarding and !new, once the rooms exist), the root
// when it drops the event. An Ack travels with its event through pending
// buffers, parked messages and a crashed actor's hand-over. The Matrix side
// stores its sync position only past acked events, so a crash before an
// ack has the event delivered again; RoomRecord.Taken keeps a room from
// taking it twice.
//
// # How a reply shows up
//
// The first text chunk sends the reply; later chunks edit it, at most
// Options.MaxEdits times, each edit waiting a little longer than the one
// before. Edits do not notify a user, so a turn that ran longer than
// Options.NotifyAfter does not end with a last edit: its preview is edited
// down to a one-line pointer and the final answer goes out as new messages,
// which notify with the answer's beginning. An edit to a pointer was chosen
// over a redaction because it needs no redaction power and leaves no
// "message deleted" placeholder; the full text is in the timeline once.
//
// # Map
//
// Where each flow happens. A reference is a file of this package (or a
// path from it) and, in parentheses, the functions, methods or types to
// read there; TestDocMap checks that each exists, so the map cannot rot.
//
// The tree is split by kind of actor, each a package over this one:
// root/ routes by sender; user/ is a user: onboarding, user commands,
// quotas, the rate limit, reading its record; room/ is a room: turns,
// replies, commands, files, stop, its record writes; reconcile/ is
// start-up reconciliation; grain/ hosts a user's or a room's actor as a
// protoactor-go grain when a cluster places them (its messages cross
// members through wire/). internal/kit/ holds what more than one kind
// uses and no caller outside the tree needs: tasks, passivation, the order
// of record writes, the chat id reservation. This package holds what every
// kind and every port's implementation share: messages.go and ports.go,
// then ack.go, commands.go, records.go, stateevents.go, errors.go,
// options.go, stages.go (StageNames, All), tokenbucket.go,
// sendpacer*.go, running_turns.go and system.go. An import runs only downwards: root to user and reconcile,
// user to grain and room, grain to room, each to internal/kit and this package (TestImportsOnlyDown).
//
//   - A message: ../matrix/syncer.go (ProcessResponse, convert, withAck)
//     turns a sync response into MessageReceived with an Ack; root/root.go
//     (route) sends it to its sender's user actor; user/user.go (handle,
//     message) checks access (hasAccess), the rate limit (user/ratelimit.go
//     withinRateLimit) and commands (commands.go ParseCommand), then hands
//     it to the room (toRoom) as a StartTurn; room/room.go (handle,
//     takenBefore, enqueue) takes it once and queues it.
//   - A turn and its reply: room/turn.go (startNextTurn, dialed,
//     turnRecorded, sendTurn, pump, finishTurn): the turn is recorded
//     (TurnInFlight) before the agent gets it; room/events.go (takeQueued,
//     agentEvents, applyAgentEvent) takes the agent's events that arrived
//     together in one go; room/reply.go
//     (replyView, splitText) lays out the reply; room/typing.go
//     (typingLatch); the agent side is ../agents/conn.go (Turn).
//   - A turn cut by a restart: room/cut.go (recordEnding, lastEdit,
//     checkCut, cutCheckedDone, tellCut): the record says a turn is ending,
//     naming its last post when that is an edit, before the post may go
//     out; the next holder tells the user at once, makes the edit again,
//     or asks the homeserver for the post's mark (replyend.go ReplyEnd).
//   - A command: commands.go (ParseCommand, RoomScoped, lookupCommand);
//     user-scoped ones in user/commands.go (command, newChat); room-scoped
//     ones in room/commandacks.go (command, commandDone) and
//     room/commands.go (runCommand); conversations in room/contexts.go
//     (saveContext, loadContext, chooseAgent, rebind); a new command is a
//     line in commands.go and a case in runCommand or command.
//   - Stop: room/stop.go (stopTurn, cancelSentDone, stoppedTurnOver,
//     endStopping) sends USER_CANCEL through ../agents/conn.go (Cancel).
//   - Files: room/files.go (stageFile, fileStagedDone, removeStaged,
//     quotaWriter) into ../workspace/files.go (Receive); user/quota.go
//     (stagedQuota) bounds them per user; the agent's files go out from
//     room/events.go (applyAgentEvent).
//   - Acks: ack.go (Ack, AckOf, Took); a room acks with the record write
//     (room/room.go save, saved; room/commandacks.go commandDone), a user
//     actor when it decided (user/user.go handle); a failed write holds them
//     (room/writefail.go writeFailed); the sync position waits for them
//     (../matrix/position.go).
//   - Record writes: room/room.go (save, publish) ordered by
//     internal/kit/recordwrites.go (RecordWrites); the room's state event on
//     the homeserver is stateevents.go (ChatStateOf, StateEvents).
//   - Onboarding and new chats: user/provision.go (provision, provisioner,
//     createChat, reopen).
//   - Reconciliation: reconcile/reconcile.go (Run, applyPlan) runs
//     reconcile/plan.go (PlanFor) over what the homeserver holds; then
//     reconcile/reconcile.go (loadedAfter, loadUsers) tells the root whose
//     events deserve an actor and which rooms a stop left mid-turn.
//   - Passivation: internal/kit/passivate.go (IdleClock, Children);
//     user/user.go and room/room.go (idle).
//   - Fencing, one activation per room: room/room.go (start) takes a new
//     epoch (Store.ActivateRoom, records.go RoomRecord); a write refused as
//     stale stops the older activation without a word, room/writefail.go
//     (fenced).
//   - Graceful stop: running_turns.go (WatchTurns, RunningTurns);
//     room/room.go (stopped).
//   - Users and rooms as grains of a cluster: user/kind.go (NewKinds,
//     Child) and grain/host.go (NewHostKind, RoomChild, host) host a
//     user's or a room's actor on the member its id hashes to, found by
//     grain/placer.go (Placer, Place). The root reaches the users'
//     grains, root/grains.go (newUserLinks), and a user actor its rooms',
//     user/grains.go (newRoomLinks, grainReported), through
//     grain/links.go (Links, Send, Reported, Terminated), which keeps what
//     a grain has not acked and sends it again to a grain that ended. A
//     grain that moves hands its actor over, grain/host.go
//     (handOverOnPoison), room/handover.go (handover, tryHandover) and
//     user/handover.go (handover); what crosses members is wire/wire.go
//     (Register, Encode, Deserialize).
//   - Sending, paced by the homeserver: sendpacer.go (SendPacer,
//     RateLimited, wait, next) over tokenbucket.go (TokenBucket); the
//     decorator, sendpacer_matrix.go (Paced, pacedMatrix), is installed by
//     root/root.go (NewProps), so every actor's posts are paced;
//     room/turn.go (pump) marks a reply's first message, final texts and
//     streaming edits (WithSendPriority).
//   - Chat ids never reused: internal/kit/chatids.go (ReservingStore)
//     reserves ahead in the bot's account data before
//     ../persistence/sequence.go (NextPlatformChatID) hands one out; the
//     decorator is installed by internal/kit/deps.go (Prepare).
//   - Quotas: user/quota.go (chatQuotaLeft, stagedQuota, stagedEnded).
package actors
