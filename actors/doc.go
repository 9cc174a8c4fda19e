// Package actors is the actor tree of Surfaces on protoactor-go.
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
// The files are grouped by the actor they belong to: root.go for the root,
// which routes by sender; user*.go for a user: onboarding, user commands,
// quotas, the rate limit, reading its record; room*.go for a room: turns,
// replies, commands, files, stop, its record writes; reconcile*.go for
// start-up reconciliation. The rest is shared: messages.go and ports.go,
// the messages and the ports every actor uses, then ack.go, commands.go,
// records.go, stateevents.go, tokenbucket.go, sendpacer*.go, chatids.go,
// passivate.go, task.go, props.go and system.go. When the cluster makes
// users and rooms grains, these groups become the packages actors/user,
// actors/room and actors/reconcile over one leaf package holding
// messages.go, ports.go, records.go, stateevents.go and errors.go.
//
//   - A message: ../matrix/syncer.go (ProcessResponse, convert, withAck)
//     turns a sync response into MessageReceived with an Ack; root.go
//     (route) sends it to its sender's user actor; user.go (handle, message)
//     checks access (hasAccess), the rate limit (user_ratelimit.go
//     withinRateLimit) and commands (commands.go ParseCommand), then hands
//     it to the room (toRoom) as a StartTurn; room.go (handle, takenBefore,
//     enqueue) takes it once and queues it.
//   - A turn and its reply: room_turn.go (startNextTurn, dialed,
//     turnRecorded, sendTurn, agentEvent, pump, finishTurn): the turn is
//     recorded (TurnInFlight) before the agent gets it; room_reply.go
//     (replyView, splitText) lays out the reply; room_typing.go
//     (typingLatch); the agent side is ../agents/conn.go (Turn).
//   - A command: commands.go (ParseCommand, RoomScoped, lookupCommand); user-scoped ones
//     in user_commands.go (command, newChat); room-scoped ones in
//     room_commandacks.go (command, commandDone) and room_commands.go
//     (runCommand); conversations in room_contexts.go (saveContext,
//     loadContext, chooseAgent, rebind); a new command is a line in
//     commands.go and a case in runCommand or command.
//   - Stop: room_stop.go (stopTurn, cancelSentDone, stoppedTurnOver,
//     endStopping) sends USER_CANCEL through ../agents/conn.go (Cancel).
//   - Files: room_files.go (stageFile, fileStagedDone, removeStaged,
//     quotaWriter) into ../workspace/files.go (Receive); user_quota.go
//     (stagedQuota) bounds them per user; the agent's files go out from
//     room_turn.go (agentEvent).
//   - Acks: ack.go (Ack, AckOf, Took); a room acks with the record write
//     (room.go save, saved; room_commandacks.go commandDone), a user actor
//     when it decided (user.go handle); a failed write holds them
//     (room_writefail.go writeFailed); the sync position waits for them
//     (../matrix/position.go).
//   - Record writes: room.go (save, publish) ordered by room_writes.go
//     (RecordWrites); the room's state event on the homeserver is
//     stateevents.go (ChatStateOf, StateEvents).
//   - Onboarding and new chats: user_provision.go (provision, provisioner,
//     createChat, reopen).
//   - Reconciliation: reconcile.go (Reconcile, applyPlan) runs
//     reconcile_plan.go (PlanReconcile) over what the homeserver holds;
//     then reconcile.go (loadedAfter, loadUsers) tells the root whose
//     events deserve an actor and which rooms a stop left mid-turn.
//   - Passivation: passivate.go (IdleClock, Children); user.go and room.go
//     (idle).
//   - Fencing, one activation per room: room.go (start) takes a new epoch
//     (Store.ActivateRoom, records.go RoomRecord); a write refused as
//     stale stops the older activation without a word, room_writefail.go
//     (fenced).
//   - Graceful stop: running_turns.go (WatchTurns, RunningTurns); room.go
//     (stopped).
//   - Sending, paced by the homeserver: sendpacer.go (SendPacer,
//     RateLimited, wait, next) over tokenbucket.go (TokenBucket); the
//     decorator, sendpacer_matrix.go (PacedMatrix), is installed by root.go
//     (NewRootProps), so every actor's posts are paced; room_turn.go (pump)
//     marks a reply's first message, final texts and streaming edits
//     (WithSendPriority).
//   - Chat ids never reused: chatids.go (ReservingStore) reserves ahead in
//     the bot's account data before ../persistence/sequence.go
//     (NextPlatformChatID) hands one out; the decorator is installed by
//     kitdeps.go (Prepare).
//   - Quotas: user_quota.go (chatQuotaLeft, stagedQuota, stagedEnded).
package actors
