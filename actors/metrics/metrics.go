// Package metrics turns the actor tree's events (actors.TurnEnded and the
// like, published on the actor system's EventStream) into Prometheus
// metrics. It only observes: nothing in the tree depends on it. The
// collectors are safe for concurrent use; the EventStream calls Observe from
// the publishing actor's goroutine, and Observe never blocks.
package metrics

import (
	"errors"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/surfaces-bot/surfaces/actors"
)

// Metrics holds the tree's metrics.
type Metrics struct {
	turns    *prometheus.CounterVec
	tokens   *prometheus.CounterVec
	rejected *prometheus.CounterVec
	restarts prometheus.Counter
	duration *prometheus.HistogramVec

	system *actor.ActorSystem
	sub    *eventstream.Subscription
}

// New registers the metrics with reg and starts observing system's events.
func New(reg prometheus.Registerer, system *actor.ActorSystem) (*Metrics, error) {
	m := &Metrics{
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "surfaces_turns_total", Help: "Turns that ended, by agent and outcome (ok, failed, stopped).",
		}, []string{"agent", "outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "surfaces_agent_tokens_total", Help: "Tokens the agents reported in AGENT_EVENT_END.tokens_used, by agent.",
		}, []string{"agent"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "surfaces_messages_rejected_total", Help: "Messages not passed on, by reason (queue_full, rate_limited).",
		}, []string{"reason"}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "surfaces_room_restarts_total", Help: "Room actors restarted after a crash.",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "surfaces_turn_duration_seconds", Help: "Time from the start of a turn to its final reply, by agent.",
			Buckets: prometheus.ExponentialBuckets(0.5, 2, 12),
		}, []string{"agent"}),
		system: system,
	}
	for _, c := range []prometheus.Collector{m.turns, m.tokens, m.rejected, m.restarts, m.duration} {
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
	case *actors.TurnEnded:
		outcome := "ok"
		switch {
		case errors.Is(e.Err, actors.ErrStopped):
			outcome = "stopped"
		case e.Err != nil:
			outcome = "failed"
		}
		m.turns.WithLabelValues(e.AgentID, outcome).Inc()
		m.tokens.WithLabelValues(e.AgentID).Add(float64(e.TokensUsed))
		m.duration.WithLabelValues(e.AgentID).Observe(e.Duration.Seconds())
	case *actors.MessageRejected:
		m.rejected.WithLabelValues(e.Reason).Inc()
	case *actors.RoomRestarted:
		m.restarts.Inc()
	}
}

// Close stops observing.
func (m *Metrics) Close() { m.system.EventStream.Unsubscribe(m.sub) }
