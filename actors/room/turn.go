package room

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// turn is the state of the one turn a room actor runs.
type turn struct {
	// id is unique in the process, so results from an earlier turn or an
	// earlier incarnation of the actor are recognised and ignored.
	id      uint64
	eventID string
	msg     actors.UserMessage
	started time.Time
	// agentID is the agent the turn runs on.
	agentID string
	// recordTicket is the write that records the turn as in flight; the
	// message goes to the agent only once it landed (recorded), so that a
	// crash never leaves an agent with a message the record does not know
	// (the homeserver would deliver it again, and it would run twice).
	// waiting is the connection ready before that.
	recordTicket uint64
	recorded     bool
	waiting      actors.AgentConn
	// endTicket is the write that records the turn as ending
	// (InFlightTurn.Ending) with endPost as its last post, 0 before it;
	// that post goes out, or carries its mark, only once it landed
	// (endRecorded; see cut.go).
	endTicket   uint64
	endRecorded bool
	endPost     replyOp
	// log carries turn_id (with the room, agent and conversation): it goes
	// into the contexts of the turn's agent and Matrix calls, so one id
	// follows the turn through the room actor, the agent client and the
	// Matrix sends.
	log zerolog.Logger
	// firstText is when the agent's first text chunk arrived.
	firstText time.Time
	// clock holds when the turn's stages ended (see TurnStages).
	clock  stageClock
	reply  *replyView
	chunks int

	opInFlight bool
	// inFlight is the operation in flight while opInFlight.
	inFlight replyOp
	lastOpAt time.Time
	// edits counts the edits sent for this reply (PRODUCT R3.11).
	edits int
	// stopped is set when the user stopped the turn (!stop, 🛑).
	stopped bool
	// retired is set once the end of the turn decided whether the preview
	// stays (short turn) or gives way to a new, notifying message.
	retired bool
	tick    *time.Timer
	typing  *time.Timer
	// read: the message's receipt was sent; typingOn: typing was turned
	// on (so it must go off at the end).
	read, typingOn bool

	ended bool
	// confirmID is the agent's open confirmation request, answered by
	// !yes/!no or a 👍/👎 reaction to confirmEventID, the notice asking it.
	confirmID      string
	confirmEventID string
	// undelivered is set when a part of the reply could not be sent or
	// edited; the user is told at the end.
	undelivered bool
	failure     error
	// failureText is the agent's own ERROR message, shown to the user.
	failureText string
	tokens      int64
}

var turnIDs atomic.Uint64

func (t *turn) stopTimers() {
	if t.tick != nil {
		t.tick.Stop()
	}
	if t.typing != nil {
		t.typing.Stop()
	}
}

// Messages of the turn pipeline, sent by the actor's own tasks and timers.
type (
	agentDialed struct {
		inc     uint64
		turnID  uint64
		conn    actors.AgentConn
		connFor string
		err     error
	}
	// agentEventsArrived is the agent's events that had arrived together
	// (see takeQueued).
	agentEventsArrived struct {
		turnID uint64
		events []actors.AgentEvent
	}
	// agentEventArrived is one event of a turn: a failure the room saw
	// itself (dial, send, a turn refused), or one of a batch.
	agentEventArrived struct {
		turnID uint64
		event  actors.AgentEvent
	}
	replyOpDone struct {
		turnID  uint64
		op      replyOp
		eventID string
		err     error
	}
	editTick   struct{ turnID uint64 }
	typingTick struct{ turnID uint64 }
)

// startNextTurn starts the oldest queued message if no turn is running and
// reports whether it did (the record is then written with the new queue).
func (a *roomActor) startNextTurn(c actor.Context) bool {
	if a.turn != nil || len(a.queue) == 0 || a.holdTurns > 0 || a.rec.Archived || a.deps.Drain.Draining() || a.handingOver || a.moveToAssigned(c) {
		return false
	}
	a.skipMove = false
	next := a.queue[0]
	a.queue = a.queue[1:]
	t := &turn{
		id:      turnIDs.Add(1),
		eventID: next.EventID,
		started: time.Now(),
		reply:   newReplyView(a.opts.MaxMessageBytes),
		agentID: a.rec.AgentID,
	}
	t.clock = stageClock{received: cmp.Or(next.ReceivedAt, next.TakenAt), taken: next.TakenAt}
	a.turn = t
	a.connGen++ // a pending idle close is now stale
	t.log = a.log.With().Uint64("turn_id", t.id).Str("agent_id", a.rec.AgentID).Str("platform_chat_id", a.rec.PlatformChatID).Logger()
	t.log.Info().Str("event_id", t.eventID).Int("queued", len(a.queue)).Msg("turn started")
	c.ActorSystem().EventStream.Publish(&actors.TurnStarted{RoomID: a.roomID, EventID: t.eventID, Queued: len(a.queue)})

	a.rec.TurnInFlight = &actors.InFlightTurn{EventID: t.eventID, Text: next.Text, StartedAt: t.started}
	t.recordTicket = a.save(c)
	if a.opts.TypingAfter > 0 {
		t.typing = kit.SendLater(c, a.opts.TypingAfter, &typingTick{turnID: t.id})
	} else {
		a.showWorking(c, t)
	}

	t.msg = actors.UserMessage{Text: next.Text, Attachments: stagedPaths(a.rec.Staged)}
	a.rec.Staged = nil // the files travel with this turn (PRODUCT R4.1)
	if a.conn != nil && a.connFor != connKey(a.rec) {
		// !clear, !load or !agent bound the room to another conversation;
		// a connection is for one.
		a.dropConn()
	}
	if a.conn != nil {
		select {
		case <-a.conn.Done():
			a.conn = nil
		default:
			// Err is set as soon as the connection started ending, before
			// Done closes; such a connection is not reused.
			if a.conn.Err() == nil {
				a.sendWhenRecorded(c, t, a.conn)
				return true
			}
			a.conn = nil
		}
	}
	agent, ok := a.deps.Registry.Agent(a.rec.AgentID)
	if !ok {
		a.agentEvent(c, &agentEventArrived{turnID: t.id, event: actors.AgentEvent{
			Kind: actors.AgentFailed, Err: errors.Join(actors.ErrAgentUnavailable, actors.ErrUnknownAgent),
		}})
		return true
	}
	dialer, chatID, id, key, inc, tlog := a.deps.Agents, a.rec.PlatformChatID, t.id, connKey(a.rec), a.inc, t.log
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		conn, err := dialer.Dial(tlog.WithContext(ctx), agent, chatID)
		if conn != nil && ctx.Err() != nil {
			// The actor stopped or restarted while dialing: nobody will
			// use or close this connection, so close it here.
			_ = conn.Close()
			return nil
		}
		return &agentDialed{inc: inc, turnID: id, conn: conn, connFor: key, err: err}
	})
	return true
}

// connKey names the conversation a room's connection is for.
func connKey(r actors.RoomRecord) string { return r.AgentID + "/" + r.PlatformChatID }

func stagedPaths(staged []actors.Attachment) []string {
	paths := make([]string, 0, len(staged))
	for _, s := range staged {
		paths = append(paths, s.Path)
	}
	return paths
}

func (a *roomActor) dialed(c actor.Context, m *agentDialed) {
	t := a.turn
	if t == nil || t.id != m.turnID {
		if m.conn != nil {
			go m.conn.Close() //nolint:errcheck // a connection nobody waits for any more
		}
		return
	}
	if m.err != nil {
		a.agentEvent(c, &agentEventArrived{turnID: t.id, event: actors.AgentEvent{Kind: actors.AgentFailed, Err: m.err}})
		return
	}
	a.conn, a.connFor = m.conn, m.connFor
	a.sendWhenRecorded(c, t, m.conn)
}

// sendWhenRecorded starts t on conn once the record says t is in flight.
func (a *roomActor) sendWhenRecorded(c actor.Context, t *turn, conn actors.AgentConn) {
	if !t.recorded {
		t.waiting = conn
		return
	}
	a.sendTurn(c, t, conn)
}

// turnRecorded notes that the write up to ticket landed (or failed, which
// is logged: the turn goes on rather than wait for a disk that is gone),
// and sends the running turn if it was waiting for it.
func (a *roomActor) turnRecorded(c actor.Context, ticket uint64) {
	t := a.turn
	if t == nil {
		return
	}
	a.endingRecorded(c, t, ticket)
	if t.recorded || ticket < t.recordTicket {
		return
	}
	t.recorded = true
	t.clock.recorded = time.Now()
	if conn := t.waiting; conn != nil {
		t.waiting = nil
		if t.ended || t.stopped {
			return
		}
		a.sendTurn(c, t, conn)
	}
}

// sendTurn starts the turn on conn and pipes its events back to the actor.
func (a *roomActor) sendTurn(c actor.Context, t *turn, conn actors.AgentConn) {
	a.connTurn = t.id
	t.clock.agentReady = time.Now()
	id, msg, tlog := t.id, t.msg, t.log
	system, self := c.ActorSystem(), c.Self()
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		events, err := conn.Turn(tlog.WithContext(ctx), msg)
		if err != nil {
			return &agentEventArrived{turnID: id, event: actors.AgentEvent{Kind: actors.AgentFailed, Err: err}}
		}
		for ev := range events {
			system.Root.Send(self, &agentEventsArrived{turnID: id, events: takeQueued(ev, events)})
		}
		// The contract promises a terminal event before the channel closes;
		// should one ever be missing, the turn must still end (a duplicate
		// is ignored).
		return &agentEventArrived{turnID: id, event: actors.AgentEvent{Kind: actors.AgentFailed, Err: actors.ErrAgentDisconnected}}
	})
}

// lastInFlight reports whether the post in flight is the reply's last:
// the agent's end come, nothing is left to post after it. It may still be
// waiting to be sent, and can then carry the mark (see actors.ReplyEnd).
func (a *roomActor) lastInFlight(t *turn) bool {
	return t.opInFlight && t.ended && t.failure == nil && t.inFlight.end != nil && a.previewStays(t) &&
		t.reply.settledBy(t.reply.render(true, a.endMarker(t)), t.inFlight)
}

// endMarker is what the final text of t ends with: the stopped or the
// incomplete marker, or nothing.
func (a *roomActor) endMarker(t *turn) string {
	switch {
	case t.stopped:
		return a.deps.Catalog.T(catalog.StoppedMark)
	case t.failure != nil:
		return a.deps.Catalog.T(catalog.Incomplete)
	}
	return ""
}

// retirePreview decides how a long turn ends (PRODUCT R3.10). Edits do not
// notify, so when a turn ran longer than NotifyAfter the streamed preview
// is edited down to a one-line pointer and the final answer is sent as new
// messages, which notify with its beginning. The full text is then in the
// timeline once, and the preview kept showing progress while it ran. It
// returns the next pointer edit, or false once there is none left (the
// view then starts afresh, so the final parts go out as new messages).
func (a *roomActor) retirePreview(t *turn) (replyOp, bool) {
	if t.retired {
		return replyOp{}, false
	}
	if a.previewStays(t) {
		t.retired = true // short turns stay one message with its edits
		return replyOp{}, false
	}
	pointer := a.deps.Catalog.T(catalog.AnswerBelow)
	for i, id := range t.reply.eventIDs {
		if id != "" && t.reply.shown[i] != pointer {
			return replyOp{part: i, edit: true, eventID: id, text: pointer}, true
		}
	}
	t.reply.shown, t.reply.eventIDs = nil, nil
	t.retired = true
	return replyOp{}, false
}

// previewStays reports whether the streamed preview of t is its reply:
// a turn shorter than NotifyAfter, or one with files (posting it again
// would upload its files twice).
func (a *roomActor) previewStays(t *turn) bool {
	return t.retired || len(t.reply.shown) == 0 || len(t.reply.files) > 0 || time.Since(t.started) < a.opts.NotifyAfter
}

// editGrowth makes each edit of a streaming reply wait a little longer than
// the one before: with the default budget of 60 edits and a 1 s interval,
// the budget lasts about 19 minutes of streaming (the interval reaching about
// 20 s near its end), so a long turn keeps showing progress without loading
// a room with thousands of edits (PRODUCT R3.11).
const editGrowth = 1.08

// editWait is the least time between the edits-th edit of a streaming reply
// and the next.
func editWait(base time.Duration, edits int) time.Duration {
	return time.Duration(float64(base) * math.Pow(editGrowth, float64(edits)))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// pump moves the Matrix side of the reply one step towards what the view
// wants: at most one send or edit in flight, at most one edit per
// EditInterval while streaming, and straight to the final text at the end.
func (a *roomActor) pump(c actor.Context) {
	t := a.turn
	if t == nil {
		return
	}
	if t.ended && !t.retired && a.previewStays(t) {
		// Decided when the turn ends, not when its last post goes out:
		// the ending record may name a post in flight as the last, and a
		// retirement decided after it returned would make it not the last.
		t.retired = true
	}
	if t.opInFlight {
		if a.lastInFlight(t) {
			a.recordEnding(c, t, t.inFlight)
		}
		return
	}
	marker := a.endMarker(t)
	op, ok := replyOp{}, false
	if t.ended {
		op, ok = a.retirePreview(t)
	}
	if !ok {
		want := t.reply.render(t.ended, marker)
		op, ok = t.reply.next(want)
		op.end = &actors.ReplyEnd{}
		if ok && t.ended && t.failure == nil && t.reply.last(want, op) {
			if !a.endingRecordedAs(t, op) {
				a.recordEnding(c, t, op)
				return // the record must say a last post may be out first
			}
			// A holder stopped after this post but before the record
			// says the turn ended leaves a complete reply: the mark lets
			// the next one see that (see cut.go).
			op.end.Set(t.eventID)
		}
	}
	if !ok {
		if t.ended {
			a.finishTurn(c)
		}
		return
	}
	if !t.ended && op.edit {
		if t.edits >= a.opts.MaxEdits-1 {
			return // the budget's last edit is kept for the final text
		}
		wait := editWait(a.opts.EditInterval, t.edits) - time.Since(t.lastOpAt)
		if wait <= 0 && !a.deps.Budget.Available() {
			// The bot-wide send budget is spent: this edit is skipped and
			// the next one carries the text that arrives meanwhile.
			wait = a.opts.EditInterval
		}
		if wait > 0 {
			if t.tick == nil {
				t.tick = kit.SendLater(c, wait, &editTick{turnID: t.id})
			}
			return
		}
	}
	if op.edit {
		t.edits++
	}
	t.opInFlight, t.inFlight, t.lastOpAt = true, op, time.Now()
	if !op.edit && op.file == "" && t.clock.firstSent.IsZero() {
		t.clock.firstSent = t.lastOpAt
	}
	matrix, roomID, id := a.deps.Matrix, a.roomID, t.id
	if op.file != "" {
		a.sendFile(c, t, op)
		return
	}
	tlog, priority := t.log, actors.PriorityFinal
	switch {
	case !op.edit && op.part == 0:
		priority = actors.PriorityFirst // what the user waits to see
	case op.edit && !t.ended:
		priority = actors.PriorityEdit // the next edit carries its text too
	}
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		ctx = actors.WithSendPriority(tlog.WithContext(context.WithoutCancel(ctx)), priority)
		ctx = actors.WithReplyEnd(ctx, op.end)
		if op.edit {
			err := matrix.EditText(ctx, roomID, op.eventID, op.text)
			return &replyOpDone{turnID: id, op: op, eventID: op.eventID, err: err}
		}
		eventID, err := matrix.SendText(ctx, roomID, op.text)
		return &replyOpDone{turnID: id, op: op, eventID: eventID, err: err}
	})
}

func (a *roomActor) replyOpDone(c actor.Context, m *replyOpDone) {
	t := a.turn
	if t == nil || t.id != m.turnID {
		return
	}
	t.opInFlight = false
	if !m.op.edit && m.op.file == "" && m.err == nil && t.clock.firstVisible.IsZero() {
		t.clock.firstVisible = time.Now()
	}
	eventID := m.eventID
	if m.op.file != "" && m.err != nil {
		a.fileNotSent(c, t, m.op.file, m.err)
	} else if m.err != nil {
		a.log.Warn().Err(m.err).Bool("edit", m.op.edit).Int("part", m.op.part).Msg("failed to update reply")
		if !m.op.edit {
			eventID = ""
		}
		t.undelivered = true
	}
	t.reply.done(m.op, eventID)
	if eventID != "" && !m.op.edit {
		a.markTurnRead(c, t) // the reply shows: its message was taken
	}
	a.pump(c)
}

func (a *roomActor) editTick(c actor.Context, m *editTick) {
	if t := a.turn; t != nil && t.id == m.turnID {
		t.tick = nil
		a.pump(c)
	}
}

func (a *roomActor) typingTick(c actor.Context, m *typingTick) {
	t := a.turn
	if t == nil || t.id != m.turnID {
		return
	}
	if t.ended && !t.typingOn && !t.clock.firstSent.IsZero() && !t.reply.filesLeft() {
		// The agent is done and its text is on its way to the homeserver,
		// which is slow to take it (as in a burst of chats): typing now
		// would flash on and off around a reply already sent, and add two
		// requests to a homeserver already behind. Typing is for while
		// the agent works (PRODUCT R3.3), or a file uploads; the receipt
		// still goes (R3.9).
		a.markTurnRead(c, t)
		return
	}
	a.showWorking(c, t)
}

// showWorking tells the user the agent is on it: the message's read
// receipt (once), typing on, renewed every TypingRefresh (PRODUCT R3.3,
// R3.9).
func (a *roomActor) showWorking(c actor.Context, t *turn) {
	a.markTurnRead(c, t)
	a.setTyping(c, true)
	t.typingOn = true
	t.typing = kit.SendLater(c, a.opts.TypingRefresh, &typingTick{turnID: t.id})
}

// markTurnRead sends the read receipt of the turn's message, once.
func (a *roomActor) markTurnRead(c actor.Context, t *turn) {
	if !t.read {
		t.read = true
		a.markRead(c, t.eventID)
	}
}

func (a *roomActor) setTyping(c actor.Context, on bool) {
	matrix, roomID, timeout := a.deps.Matrix, a.roomID, a.opts.TypingTimeout
	a.typing.set(c, a.ctx, on, func(ctx context.Context, on bool) error {
		return matrix.SetTyping(ctx, roomID, on, timeout)
	})
}

// finishTurn runs once the reply shows its final text: typing off, the
// record updated, the failure explained, and the next message started.
func (a *roomActor) finishTurn(c actor.Context) {
	t := a.turn
	t.stopTimers()
	a.turn = nil
	a.markTurnRead(c, t) // a turn quicker than TypingAfter
	if t.typingOn {
		a.setTyping(c, false)
	}
	cat := a.deps.Catalog
	switch {
	case t.failure != nil:
		a.notice(c, failureNotice(cat, t.failure, t.failureText)+"\n\n"+cat.T(catalog.RetryHint))
	case t.stopped:
	case !t.reply.hasContent():
		a.notice(c, cat.T(catalog.EmptyReply))
	}
	if t.undelivered {
		a.notice(c, cat.T(catalog.Undelivered))
	}
	a.rec.TurnInFlight = nil
	if t.failure != nil {
		a.rec.LastFailed = &actors.FailedTurn{EventID: t.eventID, Text: t.msg.Text, FailedAt: time.Now()}
	} else {
		a.rec.LastFailed = nil
	}
	a.rec.LastTurnAt = time.Now()
	a.rec.TokensUsed += t.tokens
	a.rec.Turns++
	if !t.firstText.IsZero() {
		a.rec.FirstReplyMs = append(a.rec.FirstReplyMs, t.firstText.Sub(t.started).Milliseconds())
		if n := len(a.rec.FirstReplyMs); n > actors.MaxFirstReplySamples {
			a.rec.FirstReplyMs = slices.Clone(a.rec.FirstReplyMs[n-actors.MaxFirstReplySamples:])
		}
	}
	a.save(c)

	t.clock.final, t.clock.firstChunk = time.Now(), t.firstText
	stages := t.clock.stages()
	ev := t.log.Info()
	if t.failure != nil {
		ev = t.log.Warn().Err(t.failure)
	}
	ev.Str("event_id", t.eventID).Int("chunks", t.chunks).Int64("tokens_used", t.tokens).
		Dur("duration", time.Since(t.started)).Dict("stages_ms", logDict(stages)).Msg("turn ended")
	endErr := t.failure
	if t.stopped {
		endErr = actors.ErrStopped
	}
	c.ActorSystem().EventStream.Publish(&actors.TurnEnded{
		RoomID: a.roomID, EventID: t.eventID, AgentID: t.agentID, Err: endErr,
		Chunks: t.chunks, TokensUsed: t.tokens, Duration: time.Since(t.started), FirstChunk: t.firstChunk(),
		Stages: stages,
	})
	if a.conn != nil {
		a.idleTime = kit.SendLater(c, a.opts.ConnIdleClose, &connIdle{gen: a.connGen})
	}
	a.startNextTurn(c)
	a.tryHandover(c)
}

// failureNotice explains a failed turn in plain words.
func failureNotice(cat *catalog.Catalog, err error, agentText string) string {
	switch {
	case errors.Is(err, actors.ErrAgentReported):
		return cat.T(catalog.AgentReported, "message", orDefault(progressLine(agentText), "?"))
	case errors.Is(err, actors.ErrAgentTimeout):
		return cat.T(catalog.AgentTimeout)
	case errors.Is(err, actors.ErrAgentProtocol):
		return cat.T(catalog.AgentProtocol)
	case errors.Is(err, actors.ErrAgentDisconnected):
		return cat.T(catalog.AgentDisconnected)
	case errors.Is(err, actors.ErrAgentUnavailable):
		return cat.T(catalog.AgentUnavailable)
	default:
		return cat.T(catalog.AgentFailed)
	}
}

// firstChunk is the time from the start of t to its first text chunk, 0
// when none came (TurnEnded.FirstChunk).
func (t *turn) firstChunk() time.Duration {
	if t.firstText.IsZero() {
		return 0
	}
	return t.firstText.Sub(t.started)
}
