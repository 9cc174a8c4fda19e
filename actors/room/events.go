package room

import (
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
)

// The agent's events of a turn reach the room from the turn's forwarder
// (sendTurn) in batches: what arrived together is applied together, then
// the reply moves once (pump).

// maxEventBatch bounds the events one agentEventsArrived carries.
const maxEventBatch = 64

// takeQueued returns first and the events already waiting behind it in
// events, without waiting for more. An agent that has its answer at once
// sends its chunks and its end in one burst: applied together, the reply
// usually goes out whole, one message instead of its first words and an
// edit a moment later (half the homeserver's writes for such a reply, and
// no text changing under the user's eyes); usually, because the agent
// client may still be reading the burst's later frames when the first is
// taken. An agent that streams loses nothing: its first words are alone,
// and go out at once.
func takeQueued(first actors.AgentEvent, events <-chan actors.AgentEvent) []actors.AgentEvent {
	batch := []actors.AgentEvent{first}
	for len(batch) < maxEventBatch && !batch[len(batch)-1].Terminal() {
		select {
		case ev, ok := <-events:
			if !ok {
				return batch
			}
			batch = append(batch, ev)
		default:
			return batch
		}
	}
	return batch
}

// agentEvents applies a batch of the turn's events, then moves the reply
// once. An event that posts a message of its own (a confirmation's
// question, a refused file's notice) first moves the reply with the text
// before it, so that the text is not posted below it.
func (a *roomActor) agentEvents(c actor.Context, m *agentEventsArrived) {
	applied := false
	for _, ev := range m.events {
		if applied && postsOfItsOwn(ev) {
			a.pump(c)
			applied = false
		}
		applied = a.applyAgentEvent(c, m.turnID, ev) || applied
	}
	if applied {
		a.pump(c)
	}
}

// postsOfItsOwn reports whether applying ev posts a message beside the
// reply.
func postsOfItsOwn(ev actors.AgentEvent) bool {
	return ev.Kind == actors.AgentConfirmRequest || (ev.Kind == actors.AgentSendFile && ev.Err != nil)
}

// agentEvent applies one event of the turn (a failure the room saw
// itself, such as a refused turn), then moves the reply.
func (a *roomActor) agentEvent(c actor.Context, m *agentEventArrived) {
	if a.applyAgentEvent(c, m.turnID, m.event) {
		a.pump(c)
	}
}

// applyAgentEvent takes ev, an event of the turn turnID, into the turn
// and reports whether it did.
func (a *roomActor) applyAgentEvent(c actor.Context, turnID uint64, ev actors.AgentEvent) bool {
	a.stoppedTurnOver(c, turnID, ev)
	t := a.turn
	if t == nil || t.id != turnID || t.ended {
		return false
	}
	cat := a.deps.Catalog
	switch ev.Kind {
	case actors.AgentTextChunk:
		t.chunks++
		if t.firstText.IsZero() {
			t.firstText = time.Now()
		}
		t.reply.appendChunk(ev.Text)
	case actors.AgentToolCall:
		t.reply.progress = cat.T(catalog.ProgressTool, "name", progressLine(orDefault(ev.Name, "tool")))
	case actors.AgentToolResult:
		t.reply.progress = cat.T(catalog.ProgressToolDone, "name", progressLine(orDefault(ev.Name, "tool")))
	case actors.AgentCustomUpdate:
		if line := progressLine(ev.Text); line != "" {
			t.reply.progress = "⚙ " + line
		} else {
			t.reply.progress = cat.T(catalog.ProgressWorking)
		}
	case actors.AgentSendFile:
		if ev.Err != nil {
			// A path outside the agent's workspace is refused, never read.
			a.log.Warn().Err(ev.Err).Str("event_id", t.eventID).Str("agent_id", t.agentID).Str("path", ev.Path).Msg("agent sent an unsafe file path")
			a.notice(c, cat.T(catalog.FileRefused, "path", ev.Path))
			break
		}
		// The file keeps its place in the reply: text before, the file,
		// text after (PRODUCT R4.3).
		t.reply.addFile(ev.Path)
	case actors.AgentConfirmRequest:
		t.confirmID, t.confirmEventID = ev.ID, ""
		a.askConfirmation(c, t, ev.ID, ev.Text)
	case actors.AgentEnd:
		t.ended, t.tokens = true, ev.TokensUsed
	case actors.AgentFailed:
		t.ended, t.failure = true, ev.Err
		if errors.Is(ev.Err, actors.ErrAgentReported) {
			t.failureText = ev.Text
		}
		if !errors.Is(ev.Err, actors.ErrAgentReported) {
			// After anything but a clean ERROR frame the connection is
			// suspect; the next turn dials a fresh one.
			a.dropConn()
		}
	default:
		return false
	}
	return true
}
