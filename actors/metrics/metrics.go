// Package metrics turns the actor tree's events (actors.TurnEnded and the
// like, published on the actor system's EventStream) into Prometheus
// metrics, and counts the tree's actors when scraped. It only observes:
// nothing in the tree depends on it. The collectors are safe for concurrent
// use; the EventStream calls Observe from the publishing actor's goroutine,
// and Observe never blocks.
//
// Labels stay bounded: an agent id (from the registry), an outcome, a
// reason or a kind from a fixed list; never a room or a user id.
package metrics

import (
	"errors"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/reconcile"
)

// Metrics holds the tree's metrics.
type Metrics struct {
	turns       *prometheus.CounterVec
	tokens      *prometheus.CounterVec
	agentErrors *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	restarts    prometheus.Counter
	activation  prometheus.Histogram
	duration    *prometheus.HistogramVec
	firstChunk  *prometheus.HistogramVec
	queued      prometheus.Histogram
	stages      *prometheus.HistogramVec
	active      prometheus.Gauge

	quotaRefusals *prometheus.CounterVec
	writeFailures prometheus.Counter
	failingRooms  prometheus.Gauge

	reconcileRuns     *prometheus.CounterVec
	reconcileChanges  *prometheus.CounterVec
	reconcileDuration prometheus.Gauge

	// running is the rooms with a turn running (the active gauge's value);
	// failing the rooms whose record writes are failing.
	mu      sync.Mutex
	running map[string]bool
	failing map[string]bool

	system *actor.ActorSystem
	sub    *eventstream.Subscription
}

// The outcomes of surfaces_turns_total.
const (
	outcomeOK      = "ok"
	outcomeFailed  = "failed"
	outcomeStopped = "stopped"
	outcomeCut     = "cut"
)

// The kinds of surfaces_agent_errors_total, in the order they are tested.
var agentErrorKinds = []struct {
	err  error
	kind string
}{
	{actors.ErrAgentTimeout, "timeout"},
	{actors.ErrAgentDisconnected, "disconnected"},
	{actors.ErrAgentProtocol, "protocol"},
	{actors.ErrAgentUnavailable, "unavailable"},
	{actors.ErrAgentReported, "reported"},
}

// The changes of surfaces_reconcile_changes_total.
const (
	changeRecoveredUser  = "recovered_user"
	changeRecoveredRoom  = "recovered_room"
	changeRepairedRecord = "repaired_record"
	changeRepairedState  = "repaired_state"
	changeBackfilled     = "backfilled"
	changeRelinked       = "relinked"
	changeSkipped        = "skipped"
)

// New registers the metrics with reg and starts observing system's events.
// Events published before New are not seen: call it before spawning the
// tree, so that start-up reconciliation is counted.
func New(reg prometheus.Registerer, system *actor.ActorSystem) (*Metrics, error) {
	m := &Metrics{
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "surfaces_turns_total", Help: "Turns that ended, by agent and outcome (ok, failed, stopped by the user, cut by a stop of the bot).",
		}, []string{"agent", "outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "surfaces_agent_tokens_total", Help: "Tokens the agents reported in AGENT_EVENT_END.tokens_used, by agent.",
		}, []string{"agent"}),
		agentErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "surfaces_agent_errors_total",
			Help: "Turns failed by the agent, by agent and kind (timeout, disconnected, protocol, unavailable, reported, other).",
		}, []string{"agent", "kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "surfaces_messages_rejected_total", Help: "Messages not passed on, by reason (queue_full, rate_limited).",
		}, []string{"reason"}),
		activation: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "surfaces_room_activation_seconds",
			Help: "Time from a room actor's start to its record loaded with a new fencing epoch: what a message to a room that was not running waits first, and what a member taking over pays a room.",
			// 1 ms to about 33 s: a local disk, a loaded database after a takeover.
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "surfaces_room_restarts_total", Help: "Room actors restarted after a crash.",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "surfaces_turn_duration_seconds", Help: "Time from the start of a turn to its final reply, by agent.",
			Buckets: prometheus.ExponentialBuckets(0.5, 2, 12),
		}, []string{"agent"}),
		firstChunk: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "surfaces_turn_first_chunk_seconds", Help: "Time from the start of a turn to the agent's first text chunk, by agent (turns without text are not observed).",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 12),
		}, []string{"agent"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "surfaces_turn_stage_seconds",
			Help: "Where a turn's time goes: from the bot taking the user's message from the homeserver's response to the end of each stage " +
				"(taken by the room actor, recorded durably, agent ready, first chunk from the agent, first sent: the reply's first message handed to sending, " +
				"first visible: that message accepted by the homeserver, final).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"stage"}),
		queued: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "surfaces_turn_queued_messages", Help: "Messages still waiting in the room's queue when a turn starts.",
			Buckets: []float64{0, 1, 2, 3, 5, 10, 20, 50},
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "surfaces_turns_active", Help: "Rooms with a turn running.",
		}),
		quotaRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "surfaces_quota_refusals_total", Help: "Requests refused by a per-user quota, by quota (chats: !new past quota.max_chats; staged_bytes: a file past quota.max_staged_bytes).",
		}, []string{"quota"}),
		writeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "surfaces_store_write_failures_total", Help: "Room record writes that failed (each is tried again; the events they hold stay unacked).",
		}),
		failingRooms: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "surfaces_store_failing_rooms", Help: "Rooms whose last record write failed (while above 0, /readyz answers 503).",
		}),
		reconcileRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "surfaces_reconcile_runs_total", Help: "Start-up reconciliations, by outcome (ok; failed: the homeserver could not be read, local records served).",
		}, []string{"outcome"}),
		reconcileChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "surfaces_reconcile_changes_total",
			Help: "What start-up reconciliation did, by change (recovered_user, recovered_room, repaired_record, repaired_state, backfilled, relinked, skipped).",
		}, []string{"change"}),
		reconcileDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "surfaces_reconcile_last_duration_seconds", Help: "How long the last start-up reconciliation took.",
		}),
		running: map[string]bool{},
		failing: map[string]bool{},
		system:  system,
	}
	// Fixed label values start at 0, so a rate is defined from the start.
	for _, reason := range []string{actors.RejectedQueueFull, actors.RejectedRateLimited} {
		m.rejected.WithLabelValues(reason)
	}
	for _, quota := range []string{actors.QuotaChats, actors.QuotaStagedBytes} {
		m.quotaRefusals.WithLabelValues(quota)
	}
	for _, change := range []string{changeRecoveredUser, changeRecoveredRoom, changeRepairedRecord, changeRepairedState,
		changeBackfilled, changeRelinked, changeSkipped} {
		m.reconcileChanges.WithLabelValues(change)
	}
	for _, c := range []prometheus.Collector{m.turns, m.tokens, m.agentErrors, m.rejected, m.restarts, m.activation, m.duration,
		m.firstChunk, m.queued, m.stages, m.active, m.quotaRefusals, m.writeFailures, m.failingRooms, m.reconcileRuns, m.reconcileChanges, m.reconcileDuration, actorsCollector{system}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.sub = system.EventStream.Subscribe(m.Observe)
	return m, nil
}

// Observe records one event of the tree; other events are ignored.
func (m *Metrics) Observe(evt any) {
	switch e := evt.(type) {
	case *actors.TurnStarted:
		m.queued.Observe(float64(e.Queued))
		m.setRunning(e.RoomID, true)
	case *actors.TurnEnded:
		m.setRunning(e.RoomID, false)
		outcome := outcomeOK
		switch {
		case errors.Is(e.Err, actors.ErrStopped):
			outcome = outcomeStopped
		case errors.Is(e.Err, actors.ErrTurnCut):
			outcome = outcomeCut
		case e.Err != nil:
			outcome = outcomeFailed
			m.agentErrors.WithLabelValues(e.AgentID, agentErrorKind(e.Err)).Inc()
		}
		m.turns.WithLabelValues(e.AgentID, outcome).Inc()
		m.tokens.WithLabelValues(e.AgentID).Add(float64(e.TokensUsed))
		m.duration.WithLabelValues(e.AgentID).Observe(e.Duration.Seconds())
		if e.Chunks > 0 { // text came (FirstChunk may be 0 in a test's virtual time)
			m.firstChunk.WithLabelValues(e.AgentID).Observe(e.FirstChunk.Seconds())
		}
		m.observeStages(e.Stages)
	case *actors.MessageRejected:
		m.rejected.WithLabelValues(e.Reason).Inc()
	case *actors.QuotaRefused:
		m.quotaRefusals.WithLabelValues(e.Quota).Inc()
	case *actors.RecordWriteFailed:
		m.writeFailures.Inc()
		m.setFailing(e.RoomID, true)
	case *actors.RecordWritesRecovered:
		m.setFailing(e.RoomID, false)
	case *actors.RoomActivated:
		m.activation.Observe(e.Took.Seconds())
	case *actors.RoomRestarted:
		m.setRunning(e.RoomID, false) // the crash cut its turn; no TurnEnded follows
		m.restarts.Inc()
	case *reconcile.Reconciled:
		outcome := outcomeOK
		if e.Err != nil {
			outcome = outcomeFailed
		}
		m.reconcileRuns.WithLabelValues(outcome).Inc()
		m.reconcileDuration.Set(e.Duration.Seconds())
		r := e.Report
		for change, n := range map[string]int{
			changeRecoveredUser: r.RecoveredUsers, changeRecoveredRoom: r.RecoveredRooms,
			changeRepairedRecord: r.RepairedRecords, changeRepairedState: r.RepairedStates,
			changeBackfilled: r.Backfilled, changeRelinked: r.Relinked, changeSkipped: len(r.Skipped),
		} {
			m.reconcileChanges.WithLabelValues(change).Add(float64(n))
		}
	}
}

// observeStages observes the stages a turn reached (a stage it did not
// reach is 0 and not observed; taken may be 0 in a test's virtual time,
// so it is observed whenever the turn reached a later stage).
func (m *Metrics) observeStages(s actors.TurnStages) {
	if s.NoClock() {
		return // no clock ran
	}
	for name, d := range s.All() {
		if d > 0 || name == actors.StageNames[0] {
			m.stages.WithLabelValues(name).Observe(d.Seconds())
		}
	}
}

// setRunning marks roomID's turn running or not and updates the gauge.
func (m *Metrics) setRunning(roomID string, running bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if running {
		m.running[roomID] = true
	} else {
		delete(m.running, roomID)
	}
	m.active.Set(float64(len(m.running)))
}

// setFailing marks roomID's record writes failing or not and updates the
// gauge.
func (m *Metrics) setFailing(roomID string, failing bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if failing {
		m.failing[roomID] = true
	} else {
		delete(m.failing, roomID)
	}
	m.failingRooms.Set(float64(len(m.failing)))
}

// FailingWrites is how many rooms cannot write their record now: the bot
// is not ready while any cannot (their events stay unacked).
func (m *Metrics) FailingWrites() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.failing)
}

// agentErrorKind classifies the error of a failed turn.
func agentErrorKind(err error) string {
	for _, k := range agentErrorKinds {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	return "other"
}

// Close stops observing.
func (m *Metrics) Close() { m.system.EventStream.Unsubscribe(m.sub) }

// actorsCollector counts the tree's actors by kind when scraped.
type actorsCollector struct{ system *actor.ActorSystem }

var actorsDesc = prometheus.NewDesc("surfaces_actors",
	"Live actors, by kind (user, room; other: the root, reconciliation and the actor system's own processes).",
	[]string{"kind"}, nil)

// Describe implements prometheus.Collector.
func (actorsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- actorsDesc }

// Collect implements prometheus.Collector.
func (c actorsCollector) Collect(ch chan<- prometheus.Metric) {
	n := actors.CountActorsByKind(c.system)
	for kind, v := range map[string]int{"user": n.Users, "room": n.Rooms, "other": n.Other} {
		ch <- prometheus.MustNewConstMetric(actorsDesc, prometheus.GaugeValue, float64(v), kind)
	}
}
