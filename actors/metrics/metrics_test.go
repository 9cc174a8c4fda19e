package metrics_test

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/metrics"
	"github.com/surfaces-bot/surfaces/actors/reconcile"
)

// newMetricsTree starts the tree on the kit with its metrics registered in
// a fresh registry, and alice's room !r stored; call it inside synctest.
func newMetricsTree(t *testing.T) (*actortest.Kit, *prometheus.Registry, *metrics.Metrics, *actor.PID) {
	t.Helper()
	kit := actortest.NewKit(t)
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, kit.System)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	root := kit.SpawnTree()
	kit.AddRoom("@alice:example.test", "!r", "101")
	return kit, reg, m, root
}

func TestMetricsFollowTheTree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kit, reg, _, root := newMetricsTree(t)
		send := func(text string) {
			kit.System.Root.Send(root, &actors.MessageReceived{RoomID: "!r", EventID: "$" + text, Sender: "@alice:example.test", MsgType: "m.text", Body: text})
		}
		agent := map[string]string{"agent": actortest.AgentID}
		send("one")
		conn := kit.NextConn()
		turn := kit.NextTurn(conn)
		if got := gauge(t, reg, "surfaces_turns_active", nil); got != 1 {
			t.Fatalf("active turns %v during a turn, want 1", got)
		}
		// The agent thinks for 1.5 s (virtual) before its first chunk.
		actortest.Advance(t, 1500*time.Millisecond)
		turn.Emit(actortest.Text("a"), actortest.End(10))
		send("two")
		kit.NextTurn(conn).Emit(actortest.Text("b"), actortest.End(30))
		send("three")
		kit.NextTurn(conn).Emit(actortest.Failed(fmt.Errorf("read: %w", actors.ErrAgentDisconnected), ""))
		synctest.Wait()

		if got := counter(t, reg, "surfaces_agent_tokens_total", agent); got != 40 {
			t.Fatalf("tokens %v, want 40", got)
		}
		if got := counter(t, reg, "surfaces_turns_total", with(agent, "outcome", "ok")); got != 2 {
			t.Fatalf("ok turns %v, want 2", got)
		}
		if got := counter(t, reg, "surfaces_turns_total", with(agent, "outcome", "failed")); got != 1 {
			t.Fatalf("failed turns %v, want 1", got)
		}
		if got := counter(t, reg, "surfaces_agent_errors_total", with(agent, "kind", "disconnected")); got != 1 {
			t.Fatalf("disconnected errors %v, want 1", got)
		}
		// Two turns sent text: one after 1.5 s, one at once; the failed
		// turn sent none and is not observed.
		if h := histogram(t, reg, "surfaces_turn_first_chunk_seconds", agent); h.GetSampleCount() != 2 || h.GetSampleSum() < 1.5 || h.GetSampleSum() >= 2 {
			t.Fatalf("first chunk: %d samples summing to %vs, want 2 summing to 1.5s", h.GetSampleCount(), h.GetSampleSum())
		}
		if h := histogram(t, reg, "surfaces_turn_duration_seconds", agent); h.GetSampleCount() != 3 || h.GetSampleSum() < 1.5 {
			t.Fatalf("turn duration: %d samples summing to %vs, want 3, at least 1.5s", h.GetSampleCount(), h.GetSampleSum())
		}
		if h := histogram(t, reg, "surfaces_turn_queued_messages", nil); h.GetSampleCount() != 3 {
			t.Fatalf("queue depth: %d samples, want one per turn (3)", h.GetSampleCount())
		}
		if got := gauge(t, reg, "surfaces_turns_active", nil); got != 0 {
			t.Fatalf("active turns %v after the turns, want 0", got)
		}
		if got := gauge(t, reg, "surfaces_actors", map[string]string{"kind": "user"}); got != 1 {
			t.Fatalf("user actors %v, want 1", got)
		}
		if got := gauge(t, reg, "surfaces_actors", map[string]string{"kind": "room"}); got != 1 {
			t.Fatalf("room actors %v, want 1", got)
		}
	})
}

// newEventMetrics is metrics in a fresh registry following a real actor
// system's EventStream (no tree), with that system.
func newEventMetrics(t *testing.T) (*actor.ActorSystem, *prometheus.Registry, *metrics.Metrics) {
	t.Helper()
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, system)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return system, reg, m
}

// TestMetricsFromEvents publishes each event the metrics follow on a real
// actor system's EventStream.
func TestMetricsFromEvents(t *testing.T) {
	system, reg, m := newEventMetrics(t)
	publish := system.EventStream.Publish
	a := map[string]string{"agent": "a"}

	publish(&actors.TurnStarted{RoomID: "!1", EventID: "$1", Queued: 0})
	publish(&actors.TurnStarted{RoomID: "!2", EventID: "$2", Queued: 4})
	publish(&actors.TurnStarted{RoomID: "!2", EventID: "$2"}) // the same room again counts once
	if got := gauge(t, reg, "surfaces_turns_active", nil); got != 2 {
		t.Fatalf("active turns %v, want 2", got)
	}
	h := histogram(t, reg, "surfaces_turn_queued_messages", nil)
	if h.GetSampleCount() != 3 || h.GetSampleSum() != 4 || bucket(h, 3) != 2 || bucket(h, 5) != 3 {
		t.Fatalf("queue depth %v, want 3 samples: 0, 4, 0", h)
	}

	publish(&actors.TurnEnded{RoomID: "!1", AgentID: "a", Chunks: 2, TokensUsed: 7, Duration: 2 * time.Second, FirstChunk: 300 * time.Millisecond})
	publish(&actors.TurnEnded{RoomID: "!2", AgentID: "a", Err: fmt.Errorf("turn: %w", actors.ErrAgentTimeout), Duration: time.Second})
	if got := gauge(t, reg, "surfaces_turns_active", nil); got != 0 {
		t.Fatalf("active turns %v after both ended, want 0", got)
	}
	h = histogram(t, reg, "surfaces_turn_first_chunk_seconds", a)
	if h.GetSampleCount() != 1 || h.GetSampleSum() != 0.3 || bucket(h, 0.2) != 0 || bucket(h, 0.4) != 1 {
		t.Fatalf("first chunk %v, want one sample of 0.3 s (the failed turn sent no text)", h)
	}
	if h := histogram(t, reg, "surfaces_turn_duration_seconds", a); h.GetSampleCount() != 2 || h.GetSampleSum() != 3 {
		t.Fatalf("turn duration %v, want 2 s + 1 s", h)
	}

	publish(&actors.RoomActivated{RoomID: "!3", Epoch: 1, Took: 3 * time.Millisecond})
	publish(&actors.RoomActivated{RoomID: "!4", Epoch: 7, Took: 1500 * time.Millisecond})
	if h := histogram(t, reg, "surfaces_room_activation_seconds", nil); h.GetSampleCount() != 2 || bucket(h, 0.004) != 1 || bucket(h, 1.024) != 1 || bucket(h, 2.048) != 2 {
		t.Fatalf("activations %v, want 3 ms and 1.5 s", h)
	}

	publish(&actors.TurnStarted{RoomID: "!3"})
	publish(&actors.RoomRestarted{RoomID: "!3"})
	if got := gauge(t, reg, "surfaces_turns_active", nil); got != 0 {
		t.Fatalf("active turns %v after the room restarted, want 0", got)
	}
	if got := counter(t, reg, "surfaces_room_restarts_total", nil); got != 1 {
		t.Fatalf("restarts %v, want 1", got)
	}

	for _, err := range []error{
		actors.ErrStopped, actors.ErrTurnCut,
		fmt.Errorf("x: %w", actors.ErrAgentReported), actors.ErrAgentProtocol,
		fmt.Errorf("dial: %w", actors.ErrAgentUnavailable), actors.ErrAgentDisconnected, errors.New("odd"),
	} {
		publish(&actors.TurnEnded{RoomID: "!4", AgentID: "a", Err: err})
	}
	for outcome, want := range map[string]float64{"ok": 1, "failed": 6, "stopped": 1, "cut": 1} {
		if got := counter(t, reg, "surfaces_turns_total", with(a, "outcome", outcome)); got != want {
			t.Fatalf("%s turns %v, want %v", outcome, got, want)
		}
	}
	for kind, want := range map[string]float64{"timeout": 1, "reported": 1, "protocol": 1, "unavailable": 1, "disconnected": 1, "other": 1} {
		if got := counter(t, reg, "surfaces_agent_errors_total", with(a, "kind", kind)); got != want {
			t.Fatalf("%s errors %v, want %v", kind, got, want)
		}
	}
	if got := counter(t, reg, "surfaces_agent_tokens_total", a); got != 7 {
		t.Fatalf("tokens %v, want 7", got)
	}

	if got := counter(t, reg, "surfaces_messages_rejected_total", map[string]string{"reason": actors.RejectedRateLimited}); got != 0 {
		t.Fatalf("rate limited %v before any, want a 0 series", got)
	}
	publish(&actors.MessageRejected{RoomID: "!1", Reason: actors.RejectedQueueFull})
	publish(&actors.MessageRejected{RoomID: "!2", Reason: actors.RejectedQueueFull})
	publish(&actors.MessageRejected{RoomID: "!1", Reason: actors.RejectedRateLimited})
	for reason, want := range map[string]float64{actors.RejectedQueueFull: 2, actors.RejectedRateLimited: 1} {
		if got := counter(t, reg, "surfaces_messages_rejected_total", map[string]string{"reason": reason}); got != want {
			t.Fatalf("rejected for %s %v, want %v", reason, got, want)
		}
	}

	publish(&reconcile.Reconciled{Duration: 1500 * time.Millisecond, Report: reconcile.Report{
		RecoveredUsers: 2, RecoveredRooms: 3, RepairedStates: 1, Skipped: []reconcile.Skip{{RoomID: "!x", Reason: reconcile.SkipForeign}},
	}})
	publish(&reconcile.Reconciled{Duration: 250 * time.Millisecond, Err: errors.New("homeserver down"), Report: reconcile.Report{RecoveredRooms: 1}})
	if got := gauge(t, reg, "surfaces_reconcile_last_duration_seconds", nil); got != 0.25 {
		t.Fatalf("last reconciliation took %v s, want 0.25", got)
	}
	for outcome, want := range map[string]float64{"ok": 1, "failed": 1} {
		if got := counter(t, reg, "surfaces_reconcile_runs_total", map[string]string{"outcome": outcome}); got != want {
			t.Fatalf("%s reconciliations %v, want %v", outcome, got, want)
		}
	}
	for change, want := range map[string]float64{"recovered_user": 2, "recovered_room": 4, "repaired_state": 1, "skipped": 1, "backfilled": 0} {
		if got := counter(t, reg, "surfaces_reconcile_changes_total", map[string]string{"change": change}); got != want {
			t.Fatalf("reconciliation %s %v, want %v", change, got, want)
		}
	}

	// Live actors by kind, told apart by their ids.
	before := gauge(t, reg, "surfaces_actors", map[string]string{"kind": "other"})
	props := actor.PropsFromFunc(func(actor.Context) {})
	for _, name := range []string{"surfaces/user-%40a", "surfaces/user-%40a/room-%21r", "surfaces/user-%40a/room-%21s", "surfaces/user-%40b"} {
		if _, err := system.Root.SpawnNamed(props, name); err != nil {
			t.Fatal(err)
		}
	}
	for kind, want := range map[string]float64{"user": 2, "room": 2, "other": before} {
		if got := gauge(t, reg, "surfaces_actors", map[string]string{"kind": kind}); got != want {
			t.Fatalf("%s actors %v, want %v", kind, got, want)
		}
	}

	// Closed, the metrics stop following.
	m.Close()
	publish(&actors.RoomRestarted{RoomID: "!5"})
	if got := counter(t, reg, "surfaces_room_restarts_total", nil); got != 1 {
		t.Fatalf("restarts %v after Close, want still 1", got)
	}
}

func with(labels map[string]string, name, value string) map[string]string {
	out := map[string]string{name: value}
	for k, v := range labels {
		out[k] = v
	}
	return out
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	return find(t, reg, name, labels).GetCounter().GetValue()
}

func gauge(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	return find(t, reg, name, labels).GetGauge().GetValue()
}

func histogram(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) *dto.Histogram {
	t.Helper()
	h := find(t, reg, name, labels).GetHistogram()
	if h == nil {
		t.Fatalf("%s is not a histogram", name)
	}
	return h
}

// bucket is the cumulative count of h's bucket with upper bound le.
func bucket(h *dto.Histogram, le float64) uint64 {
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == le {
			return b.GetCumulativeCount()
		}
	}
	return 1 << 63 // no such bucket: fails any comparison the tests make
}

// find is the series of name in reg whose labels are exactly labels.
func find(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, metric := range f.GetMetric() {
			if len(metric.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range metric.GetLabel() {
				if want, ok := labels[lp.GetName()]; !ok || want != lp.GetValue() {
					continue metrics
				}
			}
			return metric
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return nil
}

// Each stage a turn reached is one sample of surfaces_turn_stage_seconds
// under its name; a stage not reached is none, taken is one whenever a
// later stage was reached (0 in virtual time), and a turn restored from
// the record (no clock) is none at all.
func TestTurnStagesObserved(t *testing.T) {
	system, reg, _ := newEventMetrics(t)
	ms := time.Millisecond
	whole := actors.TurnStages{Taken: ms, Recorded: 3 * ms, AgentReady: 4 * ms, FirstChunk: 6 * ms, FirstSent: 7 * ms, FirstVisible: 20 * ms, Final: 40 * ms}
	noText := actors.TurnStages{Recorded: 2 * ms, AgentReady: 3 * ms, Final: 9 * ms}
	for _, s := range []actors.TurnStages{whole, noText, {}} {
		system.EventStream.Publish(&actors.TurnEnded{RoomID: "!1", AgentID: "a", Stages: s})
	}
	want := map[string]uint64{"taken": 2, "recorded": 2, "agent_ready": 2, "first_chunk": 1, "first_sent": 1, "first_visible": 1, "final": 2}
	for _, stage := range actors.StageNames {
		h := histogram(t, reg, "surfaces_turn_stage_seconds", map[string]string{"stage": stage})
		if h.GetSampleCount() != want[stage] {
			t.Errorf("stage %s observed %d times, want %d", stage, h.GetSampleCount(), want[stage])
		}
	}
	if h := histogram(t, reg, "surfaces_turn_stage_seconds", map[string]string{"stage": "first_visible"}); h.GetSampleSum() != 0.02 {
		t.Errorf("first_visible sums to %v s, want 0.02", h.GetSampleSum())
	}
}

// A store that keeps failing is visible: each failed record write is
// counted, the failing rooms are a gauge (and FailingWrites, which /readyz
// reads), back to 0 once a write lands (issue 19, point 4).
func TestFailingWritesAreCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kit, reg, m, root := newMetricsTree(t)
		kit.Store.FailWrites(errors.New("disk gone"))
		kit.System.Root.Send(root, &actors.MessageReceived{RoomID: "!r", EventID: "$one", Sender: "@alice:example.test", MsgType: "m.text", Body: "one"})
		actortest.Advance(t, 4*time.Second) // the first write and two retries
		if got := counter(t, reg, "surfaces_store_write_failures_total", nil); got < 2 {
			t.Fatalf("%v failed writes counted, want at least 2", got)
		}
		if got := gauge(t, reg, "surfaces_store_failing_rooms", nil); got != 1 || m.FailingWrites() != 1 {
			t.Fatalf("failing rooms %v (FailingWrites %d), want 1", got, m.FailingWrites())
		}
		kit.Store.FailWrites(nil)
		actortest.Advance(t, 30*time.Second)
		kit.NextTurn(kit.NextConn()).Emit(actortest.End(0))
		synctest.Wait()
		if got := gauge(t, reg, "surfaces_store_failing_rooms", nil); got != 0 || m.FailingWrites() != 0 {
			t.Fatalf("failing rooms %v (FailingWrites %d) after a write landed, want 0", got, m.FailingWrites())
		}
	})
}
