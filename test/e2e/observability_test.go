package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"maunium.net/go/mautrix/event"

	"github.com/surfaces-bot/surfaces/test/harness"
	"github.com/surfaces-bot/surfaces/test/needs"
)

// The operators' dashboard and alert rules (issue 22) against the bot as it
// runs: a real Prometheus (Debian's package) scrapes the bot through a few
// turns and an agent outage. Every series the dashboard and the rules read
// is on /metrics and in Prometheus, every rule evaluates without error, and
// the agent-down alert fires (a copy of the rules with "for: 5s").
//
// Without Prometheus the first part still runs against the bot's own
// /metrics; the second is skipped, saying so, or fails under .ci/run.
func TestDashboardAndAlertsOnARealPrometheus(t *testing.T) {
	w := newWorld(t)
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	rulesPath := filepath.Join(root, harness.AlertRulesFile)
	dashboard, err := harness.DashboardQueries(filepath.Join(root, harness.DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := harness.AlertRules(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	// reads maps each metric name to the first panel query or rule reading it.
	reads := map[string]string{}
	for _, q := range dashboard {
		for _, name := range harness.MetricNames(q) {
			if _, ok := reads[name]; !ok {
				reads[name] = "the dashboard's query " + q
			}
		}
	}
	for _, r := range rules {
		for _, name := range harness.MetricNames(r.Expr) {
			if _, ok := reads[name]; !ok {
				reads[name] = "the alert " + r.Alert
			}
		}
	}

	// Prometheus watches from the start, when it is installed.
	var prom *harness.Prometheus
	if bin, err := exec.LookPath("prometheus"); err == nil {
		rulesCopy, err := harness.WriteAlertRulesCopy(rulesPath, t.TempDir(), map[string]string{"SurfacesAgentCircuitOpen": "5s"})
		if err != nil {
			t.Fatal(err)
		}
		prom, err = harness.StartPrometheus(w.ctx, bin, t.TempDir(), harness.PrometheusOptions{
			Targets: []string{w.stack.HTTPAddr()}, RuleFiles: []string{rulesCopy},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("prometheus log:\n%s", prom.LogTail(30))
			}
			_ = prom.Close()
		})
	}

	w.onboard()
	w.ask("watch me", func(m harness.Message) bool { return m.FinalBody == "echo: watch me" })
	w.ask("/slow 2", func(m harness.Message) bool { return strings.TrimSpace(m.FinalBody) == "chunk 1 chunk 2" })
	w.stack.StopAgent()
	unreachable := func(m harness.Message) bool {
		return m.MsgType == event.MsgNotice && strings.Contains(m.FinalBody, "can't be reached")
	}
	for _, text := range []string{"down 1", "down 2", "down 3", "down 4"} {
		w.ask(text, unreachable)
	}
	ctx, cancel := w.wait()
	defer cancel()
	if _, err := w.stack.Bot.WaitForLine(ctx, regexp.MustCompile(`"message":"agent circuit open, not dialling"`)); err != nil {
		t.Fatalf("the circuit did not open: %v", err)
	}

	t.Run("every series the dashboard and the rules read is on /metrics", func(t *testing.T) {
		exported := exportedNames(scrape(t, w))
		for name, reader := range reads {
			if name != "up" && !exported[name] {
				t.Errorf("%s reads %s, which the bot does not export", reader, name)
			}
		}
	})

	t.Run("a real Prometheus scrapes them, evaluates every rule and fires the agent-down alert", func(t *testing.T) {
		if prom == nil {
			needs.Command(t, "prometheus", "prometheus")
			return
		}
		var firing *harness.Alert
		for firing == nil {
			alerts, err := prom.Alerts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range alerts {
				if a.Labels["alertname"] == "SurfacesAgentCircuitOpen" && a.State == "firing" {
					firing = &a
				}
			}
			if firing == nil {
				select {
				case <-ctx.Done():
					t.Fatalf("SurfacesAgentCircuitOpen is not firing while the agent is down (alerts: %+v)", alerts)
				case <-time.After(500 * time.Millisecond):
				}
			}
		}
		if firing.Labels["agent"] != "agent-0" || firing.Labels["job"] != "surfaces" || !strings.Contains(firing.Annotations["summary"], "agent-0") {
			t.Errorf("the alert %+v does not name agent-0 of the job surfaces", *firing)
		}
		health, err := prom.RuleHealth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			if health[r.Alert] != "ok" {
				t.Errorf("rule %s: health %q, want ok", r.Alert, health[r.Alert])
			}
		}
		for name, reader := range reads {
			got, err := prom.Query(ctx, fmt.Sprintf(`count({__name__=%q, job="surfaces"})`, name))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 {
				t.Errorf("%s reads %s, which Prometheus has no series of", reader, name)
			}
		}
		for _, q := range []string{`up{job="surfaces"}`, `surfaces_ready`, `surfaces_agent_circuit_open{agent="agent-0"}`} {
			got, err := prom.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Value != 1 {
				t.Errorf("%s = %+v, want 1", q, got)
			}
		}
		// Every panel's query runs (a typo in PromQL is an error here),
		// with Grafana's variables as it would fill them in.
		for _, q := range dashboard {
			if strings.HasPrefix(q, "label_values(") {
				continue // Grafana's own function, not PromQL
			}
			q = strings.NewReplacer(`=~"$instance"`, `=~".*"`, "$__rate_interval", "1m").Replace(q)
			if _, err := prom.Query(ctx, q); err != nil {
				t.Errorf("the dashboard's query does not run: %v", err)
			}
		}
	})
}

// exportedNames lists the series names a scrape holds, as PromQL names
// them: a histogram's _bucket, _sum and _count.
func exportedNames(families map[string]*dto.MetricFamily) map[string]bool {
	names := map[string]bool{}
	for name, f := range families {
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[name+suffix] = true
			}
			continue
		}
		names[name] = true
	}
	return names
}
