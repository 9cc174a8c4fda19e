package room

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// roomActor owns one conversation room: its record (platform_chat_id,
// staged attachments), its agent connection and the turn in progress. Turns
// run strictly one after another; messages that arrive meanwhile wait in a
// bounded queue (PRODUCT R3.2).
//
// The record is reloaded from the Store on every (re)start, so a crashed
// room actor comes back with its durable state; only the turn that was
// running is lost, and the user is told.
type roomActor struct {
	deps   *kit.Deps
	opts   *actors.Options
	roomID string
	// initial is the record the user actor had when it spawned this actor;
	// used only if the Store cannot be read.
	initial actors.RoomRecord

	base   context.Context
	ctx    context.Context
	cancel context.CancelCauseFunc
	log    zerolog.Logger

	// inc identifies this incarnation: results of an earlier (crashed) one
	// that arrive after the restart carry another value and are ignored.
	inc     uint64
	rec     actors.RoomRecord
	loaded  bool
	crashed bool
	// startedAt is when this incarnation started (RoomActivated.Took).
	startedAt time.Time
	// cut is the turn a crash of the previous incarnation cut off.
	cut *actors.InFlightTurn
	// pending holds messages that arrived before the record was loaded.
	pending []any
	queue   []*actors.StartTurn
	turn    *turn

	typing typingLatch
	conn   actors.AgentConn
	// connFor is the agent and platform_chat_id conn was opened for
	// ("agent/chat"); a connection serves one conversation of one agent.
	connFor  string
	connGen  uint64
	idleTime *time.Timer

	// reported is the ticket of the newest record written and reported to
	// the parent, so an older write that reports late is not reported.
	reported uint64
	// published is the room's state event as last written (or found at
	// load): the record's description on the homeserver (PRODUCT R11).
	published actors.ChatState
	// clock stops the actor when it has been idle (see passivate.go).
	clock kit.IdleClock
	// stopping is the id of a turn the user stopped whose agent side is not
	// over yet; cancelling the one whose USER_CANCEL is being written;
	// connTurn is the turn last sent on conn.
	stopping, cancelling, connTurn uint64
	// holdTurns counts commands in flight that rebind the room to another
	// conversation (!clear, !load, !agent): a message sent after one of them
	// must go to the new conversation, so turns wait until they are done.
	holdTurns int
	// arrivals numbers the messages and files the room takes, in order
	// (StartTurn.arrival).
	arrivals uint64
	// skipMove lets one turn go ahead on the default agent after a move to
	// the assigned one failed, instead of retrying in a loop.
	skipMove bool
	// acks are the events taken since the last write; the next write
	// acks them once it lands (see Ack).
	acks []*actors.Ack
	// staging holds the files being downloaded, by event id: a crash
	// hands them to the successor, which fetches them again.
	staging map[string]*actors.StageFile
	// commands are the commands whose effect is not durable yet, oldest
	// first: a crash hands them to the successor, which runs them again;
	// running is the one runCommand is running now, awaited set when it
	// went on in a task (see room_commandacks.go).
	commands []*actors.RunCommand
	running  *actors.RunCommand
	awaited  bool
	// failedWrites counts the record writes that failed in a row (see
	// writeFailed); retryWrite is the timer of the next attempt.
	failedWrites int
	retryWrite   *time.Timer
	// fencedOut is set once a newer activation took the room (see
	// fenced): from then on the actor only stops.
	fencedOut bool
	// handingOver is set once the room's grain moves to another member
	// (handover.go): no new turn starts, and the actor stops once idle.
	handingOver bool
	// saving is the ticket of the newest record write started, landed the
	// newest that landed: a hand-over waits until they meet.
	saving, landed uint64
}

// Messages a room actor sends itself.
type (
	roomLoaded struct {
		inc uint64
		rec actors.RoomRecord
		err error
	}
	roomSaved struct {
		inc    uint64
		ticket uint64
		rec    actors.RoomRecord
		err    error
		// acks are the failed write's events, still to be acked.
		acks []*actors.Ack
	}
	// roomCrashed is sent by a crashing incarnation to its successor, with
	// the messages it had not handled yet, oldest first.
	roomCrashed struct {
		turnCut bool
		cut     *actors.InFlightTurn
		msgs    []any
		// received is what the parent's count of messages sent must
		// match for the next incarnation to passivate (kit.ChildIdle).
		received uint64
	}
	connIdle struct{ gen uint64 }
)

var Incarnations atomic.Uint64

// NewPropsWith is NewProps on deps and opts already prepared and
// defaulted: how a user actor spawns its rooms. base carries the logger.
func NewPropsWith(base context.Context, deps *kit.Deps, opts *actors.Options, rec actors.RoomRecord) *actor.Props {
	producer := func() actor.Actor {
		return &roomActor{deps: deps, opts: opts, roomID: rec.RoomID, initial: rec, base: base}
	}
	return actor.PropsFromProducer(producer, actor.WithReceiverMiddleware(opts.RoomMiddleware...))
}

// Receive implements actor.Actor.
func (a *roomActor) Receive(c actor.Context) {
	if a.fencedOut {
		switch c.Message().(type) {
		case *actor.Stopping, *actor.Stopped:
		default:
			return // a fenced activation handles nothing more (see fenced)
		}
	}
	switch c.Message().(type) {
	case *kit.PassivateTick:
		a.clock.Tick(c, a.roomID, a.idle())
		return
	case *actors.StartTurn, *actors.RunCommand, *actors.ReactionReceived, *actors.StageFile:
		a.clock.Received++ // sent by the parent (see childIdle)
	}
	a.clock.Touch()
	switch m := c.Message().(type) {
	case *actor.Started:
		a.start(c)
	case *actor.Stopping:
		a.stopped(c)
	case *actor.Restarting:
		a.restarting(c)
	case *roomCrashed:
		// Ahead of anything that reached the mailbox meanwhile: order kept.
		a.crashed, a.cut = m.turnCut, m.cut
		a.pending = append(m.msgs, a.pending...)
		a.clock.Received += m.received
	case *roomLoaded:
		if m.inc == a.inc {
			a.loadedRecord(c, m)
		}
	case *roomSaved:
		if m.inc == a.inc {
			a.saved(c, m)
		}
	case *retrySave:
		if m.inc == a.inc {
			a.retryWrite = nil
			a.save(c)
		}
	case *statePublished:
		if m.inc == a.inc {
			a.log.Warn().Err(m.err).Msg("failed to write the room's state event")
			a.published = actors.ChatState{}
		}
	case *kit.TaskPanicked:
		panic(fmt.Sprintf("room task panicked: %s\n%s", m.Value, m.Stack))
	case *connIdle:
		a.closeIdleConn(m)
	case *kit.Handover:
		a.handover(c)
	case *agentDialed:
		if m.inc != a.inc {
			// Dialed for an earlier incarnation, which is gone: close it
			// rather than leave a socket nobody reads.
			if m.conn != nil {
				go m.conn.Close() //nolint:errcheck // an orphaned connection
			}
			return
		}
		if !a.loaded {
			a.hold(m)
			return
		}
		a.dialed(c, m)
	case *cancelSent:
		a.cancelSentDone(c, m)
	case *cancelGraceOver:
		a.cancelGraceOverDone(c, m)
	case taskResult:
		if m.incarnation() == a.inc {
			a.taskDone(c, m)
		}
	default:
		if !a.loaded {
			if _, ok := m.(actors.RoomMessage); ok {
				a.hold(m)
			}
			return
		}
		a.handle(c, m)
	}
}

// MaxPending bounds the messages an actor holds while it loads its record
// (or, for a user actor, while it onboards); past it a message is dropped
// with a log line rather than let a stuck load grow memory without end.
const MaxPending = 1000

// hold keeps m for when the record is loaded.
func (a *roomActor) hold(m any) {
	if len(a.pending) >= MaxPending {
		a.log.Error().Int("pending", len(a.pending)).Str("type", fmt.Sprintf("%T", m)).Msg("room actor still loading, message dropped")
		actors.AckOf(m).Done()
		return
	}
	a.pending = append(a.pending, m)
}

func (a *roomActor) handle(c actor.Context, msg any) {
	switch m := msg.(type) {
	case *actors.StartTurn:
		if !m.HandedOver && a.takenBefore(m.EventID) {
			a.ackTaken(c, m.Ack)
			return
		}
		a.rec.Taken = actors.Took(a.rec.Taken, m.EventID)
		a.acks = append(a.acks, m.Ack)
		if !a.enqueue(c, m) {
			m.Ack.Done() // refused, and the user told
		}
	case *actors.RunCommand:
		a.command(c, m)
	case *actors.StageFile:
		if a.takenBefore(m.EventID) {
			a.ackTaken(c, m.Ack)
			return
		}
		a.stageFile(c, m)
	case *actors.ReactionReceived:
		a.reacted(c, m)
	case *confirmPosted:
		a.confirmPosted(m)
	case *confirmTimedOut:
		a.confirmTimedOutDone(c, m)
	case *confirmFailed:
		a.confirmFailedDone(c, m)
	case *agentDialed: // only from pending: the top of Receive handles the rest
		a.dialed(c, m)
	case *agentEventArrived:
		a.agentEvent(c, m)
	case *agentEventsArrived:
		a.agentEvents(c, m)
	case *replyOpDone:
		a.replyOpDone(c, m)
	case *editTick:
		a.editTick(c, m)
	case *typingTick:
		a.typingTick(c, m)
	}
}

func (a *roomActor) start(c actor.Context) {
	a.log = zerolog.Ctx(a.base).With().Str("room_id", a.roomID).Logger()
	a.ctx, a.cancel = context.WithCancelCause(a.log.WithContext(a.base))
	a.inc = Incarnations.Add(1)
	a.startedAt = time.Now()
	a.clock = kit.IdleClock{After: a.opts.PassivateAfter}
	store, roomID, inc := a.deps.Store, a.roomID, a.inc
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		// Taking a new epoch fences any other activation of the room: its
		// writes are refused from now on (see fenced).
		rec, err := store.ActivateRoom(ctx, roomID)
		return &roomLoaded{inc: inc, rec: rec, err: err}
	})
}

// stopped runs when the actor is stopped (a graceful stop past its grace,
// an archived room, a parent that stops): a running turn is cut, and its
// user is told now rather than after the next start; the record keeps the
// message for !retry and the queue for the next start.
func (a *roomActor) stopped(c actor.Context) {
	if t := a.turn; t != nil {
		// Observers (graceful shutdown, metrics) must not wait for a turn
		// that will never end.
		c.ActorSystem().EventStream.Publish(&actors.TurnEnded{RoomID: a.roomID, EventID: t.eventID, AgentID: t.agentID,
			Err: actors.ErrTurnCut, Chunks: t.chunks, Duration: time.Since(t.started), FirstChunk: t.firstChunk()})
		a.log.Warn().Str("event_id", t.eventID).Msg("turn cut off by a stop")
		cat := a.deps.Catalog
		a.notice(c, cat.T(catalog.StopCut)+"\n\n"+cat.T(catalog.RetryHint))
		a.rec.TurnInFlight = nil
		a.rec.LastFailed = &actors.FailedTurn{EventID: t.eventID, Text: t.msg.Text, FailedAt: time.Now()}
		a.turn = nil
		a.save(c)
	}
	a.stop(errors.New("room actor stopping"))
}

// idle reports whether the room may be stopped: nothing running, waiting
// or being rebound.
func (a *roomActor) idle() bool {
	return a.loaded && a.turn == nil && len(a.queue) == 0 && a.holdTurns == 0 && len(a.pending) == 0 && len(a.commands) == 0
}

func (a *roomActor) stop(cause error) {
	a.clock.Stop()
	if a.cancel != nil {
		a.cancel(cause)
	}
	if a.idleTime != nil {
		a.idleTime.Stop()
	}
	if a.retryWrite != nil {
		a.retryWrite.Stop()
	}
	if a.turn != nil {
		a.turn.stopTimers()
	}
	a.dropConn()
}

// restarting runs in the crashing incarnation: it hands the waiting messages
// to its successor through the mailbox, so nothing queued is lost, and tells
// the successor to report the cut-off turn.
func (a *roomActor) restarting(c actor.Context) {
	a.log.Error().Msg("room actor crashed, restarting")
	turnCut := a.turn != nil
	var cut *actors.InFlightTurn
	if t := a.turn; t != nil {
		// Its last post may be out once the ending write started.
		cut = &actors.InFlightTurn{EventID: t.eventID, Text: t.msg.Text, StartedAt: t.started, Ending: t.endTicket != 0}
		if cut.Ending {
			cut.LastEdit = lastEdit(t.endPost)
		}
	}
	a.stop(errors.New("room actor restarting"))
	msgs := append([]any(nil), a.pending...)
	for _, m := range a.staging {
		msgs = append(msgs, m)
	}
	// Commands whose effect did not land are run again: their acks wait.
	for _, m := range a.commands {
		msgs = append(msgs, m)
	}
	for _, m := range a.queue {
		// Taken already: the successor must not take it for a second
		// delivery.
		handed := *m
		handed.HandedOver = true
		msgs = append(msgs, &handed)
	}
	c.Send(c.Self(), &roomCrashed{turnCut: turnCut, cut: cut, msgs: msgs, received: a.clock.Received})
	c.ActorSystem().EventStream.Publish(&actors.RoomRestarted{RoomID: a.roomID})
}

func (a *roomActor) loadedRecord(c actor.Context, m *roomLoaded) {
	switch {
	case m.err == nil:
		a.rec = m.rec
		c.ActorSystem().EventStream.Publish(&actors.RoomActivated{RoomID: a.roomID, Epoch: a.rec.Epoch, Took: time.Since(a.startedAt)})
	case errors.Is(m.err, actors.ErrNotFound) && a.initial.RoomID != "":
		a.rec = a.initial
	default:
		a.log.Error().Err(m.err).Msg("failed to load room record, using the last known one")
		a.rec = a.initial
	}
	a.loaded = true
	a.clock.Arm(c)
	// Reconciliation left the homeserver's copy in step at start.
	a.published = actors.ChatStateOf(a.rec)
	a.restoreQueue()
	if cut := cmp.Or(a.cut, a.rec.TurnInFlight); cut != nil && cut.EventID != "" && cut.Ending {
		a.checkCut(c, cut)
	} else if a.crashed || cut != nil {
		a.tellCut(c, cut)
	}
	a.publishCommands(c)
	pending := a.pending
	a.pending = nil
	for _, m := range pending {
		a.handle(c, m)
	}
	a.startNextTurn(c) // the restored queue, if nothing above started it
}

// commandsPublished reports the outcome of publishing the room's command
// descriptions.
type commandsPublished struct {
	inc     uint64
	version string
	err     error
}

// publishCommands publishes the room's command descriptions (MSC4391) when
// the published set is not the current one: once per room and after every
// change of the command set or the locale.
func (a *roomActor) publishCommands(c actor.Context) {
	cmds := actors.CommandDescriptions(a.deps.Catalog, true)
	version := actors.CommandsVersion(cmds)
	if a.rec.Archived || a.rec.CommandsVersion == version {
		return
	}
	matrix, roomID, inc := a.deps.Matrix, a.roomID, a.inc
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		err := matrix.SetCommands(ctx, roomID, cmds)
		return &commandsPublished{inc: inc, version: version, err: err}
	})
}

func (a *roomActor) commandsPublishedDone(c actor.Context, m *commandsPublished) {
	if m.err != nil {
		a.log.Warn().Err(m.err).Msg("failed to publish the command descriptions")
		return
	}
	a.rec.CommandsVersion = m.version
	a.save(c)
}

// save writes the record, with the queue as it is now, and returns the
// write's ticket. The write starts at once; RecordWrites makes sure an older
// snapshot never overwrites a newer one, across incarnations too.
func (a *roomActor) save(c actor.Context) uint64 {
	a.rec.UpdatedAt = time.Now()
	a.rec.Queue = queuedMessages(a.queue)
	rec := a.rec
	rec.Staged = slices.Clone(rec.Staged)
	rec.FirstReplyMs = slices.Clone(rec.FirstReplyMs)
	rec.Taken = slices.Clone(rec.Taken)
	store, inc, acks := a.deps.Store, a.inc, a.acks
	a.acks = nil
	writer, ticket := a.deps.Writes.Ticket(a.roomID)
	a.saving = max(a.saving, ticket)
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		// The write must land even while the actor stops, so it is not
		// bound to the actor's context.
		written, err := writer.Write(ticket, func() error { return store.PutRoom(context.WithoutCancel(ctx), rec) })
		if err != nil {
			// Not durable: the events stay unacked (a restart has them
			// delivered again) and go with the next write (writeFailed).
			return &roomSaved{inc: inc, ticket: ticket, rec: rec, err: err, acks: acks}
		}
		// Skipped, the write is covered by a newer one that landed.
		for _, ack := range acks {
			ack.Done()
		}
		if !written {
			return nil // a newer snapshot is already stored
		}
		return &roomSaved{inc: inc, ticket: ticket, rec: rec}
	})
	if st := actors.ChatStateOf(rec); !actors.SameChat(st, a.published) {
		a.publish(c, st)
	}
	return ticket
}

// statePublished reports a failed write of the room's state event.
type statePublished struct {
	inc uint64
	err error
}

// publish writes the room's state event, in the order of the changes (a
// late older write is skipped). A failed write is tried again at the next
// save; reconciliation repairs one that never lands.
func (a *roomActor) publish(c actor.Context, st actors.ChatState) {
	a.published = st
	matrix, roomID, inc := a.deps.Matrix, a.roomID, a.inc
	writer, ticket := a.deps.Writes.Ticket("state:" + roomID)
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		_, err := writer.Write(ticket, func() error { return matrix.SetChatState(context.WithoutCancel(ctx), roomID, st) })
		if err == nil {
			return nil
		}
		return &statePublished{inc: inc, err: err}
	})
}

func (a *roomActor) saved(c actor.Context, m *roomSaved) {
	if errors.Is(m.err, actors.ErrStaleEpoch) {
		a.fenced(c, m.err)
		return
	}
	if m.err != nil {
		a.writeFailed(c, m)
		return
	}
	a.writeLanded(c)
	a.landed = max(a.landed, m.ticket)
	// A write skipped for a newer one reports nothing; the newer one's
	// ticket covers it.
	a.turnRecorded(c, m.ticket)
	if m.ticket > a.reported && c.Parent() != nil {
		a.reported = m.ticket
		c.Send(c.Parent(), &actors.RoomUpdated{Record: m.rec})
	}
	a.tryHandover(c) // a command's write landing may end a hand-over
}

// takenBefore reports whether the room took eventID already: the
// homeserver delivers an event again when a crash came before its ack.
func (a *roomActor) takenBefore(eventID string) bool {
	if eventID == "" || !slices.Contains(a.rec.Taken, eventID) {
		return false
	}
	a.log.Info().Str("event_id", eventID).Msg("event delivered again after a restart, already taken")
	return true
}

// ackTaken acks a second delivery of an event the room took: at once when
// the record that holds it landed, else with one more write, which lands
// after the one on its way. Acking it at once would let the sync position,
// or a user actor in another member, forget an event whose only record
// might still be lost with this member.
func (a *roomActor) ackTaken(c actor.Context, ack *actors.Ack) {
	if ack == nil {
		return
	}
	if a.landed >= a.saving && len(a.acks) == 0 {
		ack.Done()
		return
	}
	a.acks = append(a.acks, ack)
	if a.failedWrites > 0 && a.retryWrite != nil {
		// Writes are failing: the next attempt of the backoff takes it
		// (writeFailed), rather than a write per delivery.
		return
	}
	a.save(c)
}

// queuedMessages is the queue as the record stores it.
func queuedMessages(queue []*actors.StartTurn) []actors.QueuedMessage {
	if len(queue) == 0 {
		return nil
	}
	out := make([]actors.QueuedMessage, len(queue))
	for i, m := range queue {
		out[i] = actors.QueuedMessage{EventID: m.EventID, Sender: m.Sender, Text: m.Text, QueuedAt: m.QueuedAt}
	}
	return out
}

// restoreQueue puts the messages the record says were waiting back in the
// queue, ahead of anything that arrived since: they were sent earlier. A
// crashed incarnation hands its queue over too; a message it handed over
// is queued once.
func (a *roomActor) restoreQueue() {
	handed := map[string]bool{}
	for _, m := range a.pending {
		if st, ok := m.(*actors.StartTurn); ok {
			handed[st.EventID] = true
		}
	}
	for _, q := range a.rec.Queue {
		if !handed[q.EventID] {
			a.queue = append(a.queue, &actors.StartTurn{EventID: q.EventID, Sender: q.Sender, Text: q.Text, QueuedAt: q.QueuedAt})
		}
	}
	if n := len(a.queue); n > 0 {
		a.log.Info().Int("queued", n).Msg("queued messages restored")
	}
}

// enqueue queues a message for the agent, or refuses it with a notice when
// the queue is full: nothing is dropped silently.
func (a *roomActor) enqueue(c actor.Context, m *actors.StartTurn) (accepted bool) {
	if (a.turn != nil || a.holdTurns > 0) && len(a.queue) >= a.opts.QueueSize {
		a.log.Warn().Str("event_id", m.EventID).Int("queue_size", a.opts.QueueSize).Msg("room queue full, message refused")
		a.notice(c, a.deps.Catalog.T(catalog.QueueFull, "size", fmt.Sprint(a.opts.QueueSize)))
		c.ActorSystem().EventStream.Publish(&actors.MessageRejected{RoomID: a.roomID, EventID: m.EventID, Reason: actors.RejectedQueueFull})
		return false
	}
	if m.QueuedAt.IsZero() {
		m.QueuedAt = time.Now()
	}
	if m.TakenAt.IsZero() {
		m.TakenAt = m.QueuedAt // where the turn's stages start (TurnStages)
	}
	if m.Arrival == 0 {
		m.Arrival = a.nextArrival()
	}
	// A caption whose file took longer to receive than a later message goes
	// before it, where the user sent it.
	if i := slices.IndexFunc(a.queue, func(q *actors.StartTurn) bool { return q.Arrival > m.Arrival }); i >= 0 {
		a.queue = slices.Insert(a.queue, i, m)
	} else {
		a.queue = append(a.queue, m)
	}
	if !a.startNextTurn(c) {
		// It waits: written now, so a restart runs it (PRODUCT R7.2).
		a.log.Debug().Str("event_id", m.EventID).Int("queued", len(a.queue)).Msg("message queued")
		a.save(c)
	}
	return true
}

// nextArrival numbers the next message or file the room takes.
func (a *roomActor) nextArrival() uint64 {
	a.arrivals++
	return a.arrivals
}

// dropConn forgets the room's agent connection and closes it in the
// background (Close waits for the connection's goroutines; Receive must not).
func (a *roomActor) dropConn() {
	if conn := a.conn; conn != nil {
		a.conn = nil
		go conn.Close() //nolint:errcheck // nothing to report to: the connection is abandoned
	}
}

// markRead tells the user the message eventID was picked up (PRODUCT R3.9):
// a message still waiting in the queue has no receipt from the bot.
func (a *roomActor) markRead(c actor.Context, eventID string) {
	kit.MarkReadTask(c, a.ctx, a.deps.Matrix, a.roomID, eventID)
}

// notice posts a bot notice in the room.
func (a *roomActor) notice(c actor.Context, text string) {
	kit.NoticeTask(c, a.ctx, a.deps.Matrix, a.roomID, text)
}

func (a *roomActor) closeIdleConn(m *connIdle) {
	if m.gen != a.connGen || a.turn != nil || a.conn == nil {
		return
	}
	a.log.Debug().Msg("closing idle agent connection")
	a.dropConn()
}
