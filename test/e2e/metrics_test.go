package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/test/harness"
)

// TestMetricsEndpointFollowsATurn scrapes the bot's /metrics, parsed as
// Prometheus parses it, before and after one turn.
func TestMetricsEndpointFollowsATurn(t *testing.T) {
	w := newWorld(t)
	w.onboard()
	agent := map[string]string{"agent": "agent-0"}
	ok := map[string]string{"agent": "agent-0", "outcome": "ok"}

	before := scrape(t, w)
	if got := sample(before, "surfaces_reconcile_runs_total", map[string]string{"outcome": "ok"}); got != 1 {
		t.Fatalf("surfaces_reconcile_runs_total{outcome=ok} = %v at start, want 1", got)
	}
	w.ask("count me", func(m harness.Message) bool { return m.FinalBody == "echo: count me" })

	// The user can see the final reply a moment before the room actor
	// records the end of the turn: wait for the counter, then check the rest.
	var after map[string]*dto.MetricFamily
	deadline := time.Now().Add(30 * time.Second)
	for {
		after = scrape(t, w)
		if sample(after, "surfaces_turns_total", ok)-sample(before, "surfaces_turns_total", ok) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("surfaces_turns_total%v did not move after a turn: %v, then %v",
				ok, sample(before, "surfaces_turns_total", ok), sample(after, "surfaces_turns_total", ok))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d := sample(after, "surfaces_turns_total", ok) - sample(before, "surfaces_turns_total", ok); d != 1 {
		t.Fatalf("surfaces_turns_total%v moved by %v after one turn, want 1", ok, d)
	}
	for _, name := range []string{"surfaces_turn_first_chunk_seconds", "surfaces_turn_duration_seconds"} {
		if d := sample(after, name, agent) - sample(before, name, agent); d != 1 {
			t.Fatalf("%s%v count moved by %v after one turn, want 1", name, agent, d)
		}
	}
	// Where the turn's time went (issue 21, point 2): each stage observed
	// once, and the turn's end log line carries them too.
	for _, stage := range actors.StageNames {
		labels := map[string]string{"stage": stage}
		if d := sample(after, "surfaces_turn_stage_seconds", labels) - sample(before, "surfaces_turn_stage_seconds", labels); d != 1 {
			t.Fatalf("surfaces_turn_stage_seconds{stage=%s} count moved by %v after one turn, want 1", stage, d)
		}
	}
	if !slices.ContainsFunc(w.stack.Bot.StdoutLines(), func(l string) bool {
		return strings.Contains(l, `"message":"turn ended"`) && strings.Contains(l, `"stages_ms":{"taken":`) && strings.Contains(l, `"first_visible":`)
	}) {
		t.Fatal("no turn ended log line with its stages")
	}
	if d := sample(after, "surfaces_turn_queued_messages", nil) - sample(before, "surfaces_turn_queued_messages", nil); d != 1 {
		t.Fatalf("surfaces_turn_queued_messages count moved by %v after one turn, want 1", d)
	}
	if got := sample(after, "surfaces_turns_active", nil); after["surfaces_turns_active"] == nil || got != 0 {
		t.Fatalf("surfaces_turns_active = %v after the turn, want 0", got)
	}
	for _, kind := range []string{"user", "room"} {
		if got := sample(after, "surfaces_actors", map[string]string{"kind": kind}); got < 1 {
			t.Fatalf("surfaces_actors{kind=%s} = %v with a chat in use, want at least 1", kind, got)
		}
	}
	message := map[string]string{"type": "message"}
	if d := sample(after, "surfaces_matrix_events_received_total", message) - sample(before, "surfaces_matrix_events_received_total", message); d < 1 {
		t.Fatalf("surfaces_matrix_events_received_total{type=message} moved by %v after a message, want at least 1", d)
	}
	if d := sample(after, "surfaces_matrix_events_sent_total", message) - sample(before, "surfaces_matrix_events_sent_total", message); d < 1 {
		t.Fatalf("surfaces_matrix_events_sent_total{type=message} moved by %v after a reply, want at least 1", d)
	}
	if got := sample(after, "surfaces_matrix_requests_total", map[string]string{"endpoint": "sync", "outcome": "ok"}); got < 1 {
		t.Fatalf("surfaces_matrix_requests_total{endpoint=sync,outcome=ok} = %v, want at least 1", got)
	}
}

// scrape reads the bot's /metrics with the Prometheus text parser.
func scrape(t *testing.T, w *world) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + w.stack.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics = %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return families
}

// sample is the value of the series of name whose labels are exactly
// labels (a histogram's sample count), 0 when there is none yet.
func sample(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f, ok := families[name]
	if !ok {
		return 0
	}
series:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, lp := range m.GetLabel() {
			if want, ok := labels[lp.GetName()]; !ok || want != lp.GetValue() {
				continue series
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
		return m.GetUntyped().GetValue()
	}
	return 0
}
