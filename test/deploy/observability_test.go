package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/surfaces-bot/surfaces/test/harness"
	"github.com/surfaces-bot/surfaces/test/needs"
)

// The dashboard is an importable Grafana dashboard: the fields Grafana
// needs, a Prometheus data-source variable every panel and target uses,
// panels on the 24-column grid, and a query for each thing issue 22 asks
// it to show. That its metrics are exported is checked against a real
// scrape, end to end (test/e2e TestDashboardAndAlertsOnARealPrometheus).
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), harness.DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	type datasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	type panel struct {
		ID         int         `json:"id"`
		Type       string      `json:"type"`
		Title      string      `json:"title"`
		Datasource *datasource `json:"datasource"`
		GridPos    struct {
			H, W, X, Y int
		} `json:"gridPos"`
		Targets []struct {
			RefID      string      `json:"refId"`
			Expr       string      `json:"expr"`
			Datasource *datasource `json:"datasource"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var d struct {
		Title         string            `json:"title"`
		UID           string            `json:"uid"`
		SchemaVersion int               `json:"schemaVersion"`
		Panels        []json.RawMessage `json:"panels"`
		Templating    struct {
			List []struct {
				Name       string      `json:"name"`
				Type       string      `json:"type"`
				Query      any         `json:"query"`
				Datasource *datasource `json:"datasource"`
			} `json:"list"`
		} `json:"templating"`
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if d.Title == "" || d.UID == "" || d.SchemaVersion < 36 {
		t.Errorf("title %q, uid %q, schemaVersion %d: want a title, a uid and schemaVersion 36 or later", d.Title, d.UID, d.SchemaVersion)
	}
	dsVar := ""
	for _, v := range d.Templating.List {
		if v.Type == "datasource" && v.Query == "prometheus" {
			dsVar = "${" + v.Name + "}"
		}
	}
	if dsVar == "" {
		t.Fatal("no Prometheus data-source variable in templating.list")
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != dsVar) {
			t.Errorf("variable %s does not query the data source %s", v.Name, dsVar)
		}
	}

	ids := map[int]bool{}
	var queries []string
	var check func(raws []json.RawMessage)
	check = func(raws []json.RawMessage) {
		for _, raw := range raws {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("a panel does not parse: %v", err)
			}
			if p.ID <= 0 || ids[p.ID] {
				t.Errorf("panel %q: id %d missing or used twice", p.Title, p.ID)
			}
			ids[p.ID] = true
			g := p.GridPos
			if p.Title == "" || g.W < 1 || g.H < 1 || g.X < 0 || g.X+g.W > 24 || g.Y < 0 {
				t.Errorf("panel %q: no title or off the 24-column grid (%+v)", p.Title, g)
			}
			check(p.Panels)
			if p.Type == "row" {
				continue
			}
			if !slices.Contains([]string{"timeseries", "stat", "gauge", "bargauge", "table", "state-timeline"}, p.Type) {
				t.Errorf("panel %q: type %q is not a core Grafana panel", p.Title, p.Type)
			}
			if p.Datasource == nil || p.Datasource.UID != dsVar {
				t.Errorf("panel %q does not use the data-source variable %s", p.Title, dsVar)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				if tg.RefID == "" || refs[tg.RefID] || strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q: a target without a refId of its own or an expr", p.Title)
				}
				refs[tg.RefID] = true
				if tg.Datasource == nil || tg.Datasource.UID != dsVar {
					t.Errorf("panel %q: a target does not use %s", p.Title, dsVar)
				}
				if !balanced(tg.Expr) {
					t.Errorf("panel %q: unbalanced brackets in %q", p.Title, tg.Expr)
				}
				queries = append(queries, tg.Expr)
			}
		}
	}
	check(d.Panels)

	// What the issue asks the dashboard to show.
	shown := map[string]bool{}
	for _, q := range queries {
		for _, name := range harness.MetricNames(q) {
			shown[name] = true
		}
	}
	for _, name := range []string{
		"surfaces_turns_total",                 // turns by outcome
		"surfaces_turn_stage_seconds_bucket",   // first visible reply, the stage breakdown
		"surfaces_turns_active",                // active turns
		"surfaces_turn_queued_messages_bucket", // queue depth
		"surfaces_agent_errors_total",          // agents: errors by kind
		"surfaces_agent_circuit_open",          // circuit state
		"surfaces_agent_tokens_total",          // tokens
		"surfaces_matrix_requests_total",       // requests by endpoint and outcome, 429s
		"surfaces_actors",                      // actors by kind
		"surfaces_room_restarts_total",         // restarts
		"surfaces_reconcile_runs_total",        // reconciliation
		"surfaces_reconcile_last_duration_seconds",
		"process_resident_memory_bytes", // memory
		"process_cpu_seconds_total",     // CPU
		"surfaces_cluster_ingress",      // a cluster's ingress holder (issue 24)
		"surfaces_cluster_grains",       // each member's grains
	} {
		if !shown[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

// balanced reports whether the brackets of a PromQL expression pair up
// (outside string literals).
func balanced(expr string) bool {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inString := false
	for _, r := range expr {
		switch {
		case r == '"':
			inString = !inString
		case inString:
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pairs[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0 && !inString
}

// The alerts issue 22 asks for, by name.
var requiredAlerts = []string{
	"SurfacesNotReady",               // /readyz failing
	"SurfacesAgentCircuitOpen",       // an agent's circuit open for minutes
	"SurfacesTurnsFailing",           // the share of failed turns
	"SurfacesFirstReplySlow",         // first visible reply p95
	"SurfacesHomeserverRateLimiting", // 429s persistently
	"SurfacesRoomActorsRestarting",   // room actors restarting repeatedly
	"SurfacesMessagesRejected",       // queue full, rate limited
	"SurfacesReconciliationFailed",   // a failed start-up reconciliation
	"SurfacesNoIngress",              // a cluster with no member reading the homeserver (issue 24)
}

// Every alert is there, says what an operator needs (severity, summary, a
// description naming the cause and the first check), has a runbook in
// the README and a promtool unit test that fires it and keeps it silent
// on a healthy series.
func TestAlertRulesAreComplete(t *testing.T) {
	root := repoRoot(t)
	rules, err := harness.AlertRules(filepath.Join(root, harness.AlertRulesFile))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]harness.AlertRule{}
	for _, r := range rules {
		if _, dup := byName[r.Alert]; dup {
			t.Errorf("alert %s defined twice", r.Alert)
		}
		byName[r.Alert] = r
		if sev := r.Labels["severity"]; sev != "warning" && sev != "critical" {
			t.Errorf("%s: severity %q, want warning or critical", r.Alert, sev)
		}
		if r.Annotations["summary"] == "" || len(r.Annotations["description"]) < 80 {
			t.Errorf("%s: want a summary and a description that says the cause and what to check", r.Alert)
		}
		for _, name := range harness.MetricNames(r.Expr) {
			if name != "up" && !strings.HasPrefix(name, "surfaces_") {
				t.Errorf("%s reads %s, not the bot's", r.Alert, name)
			}
		}
	}
	for _, name := range requiredAlerts {
		if _, ok := byName[name]; !ok {
			t.Errorf("no alert %s", name)
		}
	}

	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, runbook, ok := strings.Cut(string(readme), "\n## Alerts")
	if !ok {
		t.Fatal("the README has no section \"## Alerts\"")
	}
	if next := strings.Index(runbook, "\n## "); next >= 0 {
		runbook = runbook[:next]
	}
	for name := range byName {
		if !regexp.MustCompile(`(?m)^\*\*` + name + `\*\*`).MatchString(runbook) {
			t.Errorf("the README's Alerts section has no runbook entry **%s**", name)
		}
	}

	// Each alert's promtool test fires it, and has a series it stays
	// silent on (an instance, agent or reason it never fires for).
	raw, err := os.ReadFile(filepath.Join(root, "deploy/prometheus/surfaces-alerts.test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			InputSeries []struct {
				Series string `yaml:"series"`
			} `yaml:"input_series"`
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []struct {
					ExpLabels map[string]string `yaml:"exp_labels"`
				} `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(raw, &tests); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tests.RuleFiles, []string{filepath.Base(harness.AlertRulesFile)}) {
		t.Errorf("the unit tests load %v, want the rules file", tests.RuleFiles)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		var firing []map[string]string
		for _, art := range tc.AlertRuleTest {
			for _, a := range art.ExpAlerts {
				fires[art.Alertname] = true
				firing = append(firing, a.ExpLabels)
			}
		}
		for _, art := range tc.AlertRuleTest {
		series:
			for _, s := range tc.InputSeries {
				for _, labels := range firing {
					if seriesMatches(s.Series, labels) {
						continue series
					}
				}
				silent[art.Alertname] = true
			}
		}
	}
	for name := range byName {
		if !fires[name] || !silent[name] {
			t.Errorf("%s: a unit test that fires it: %v; one with a series it stays silent on: %v", name, fires[name], silent[name])
		}
	}
}

// seriesMatches reports whether a promtool series selector carries every
// label an expected alert has (severity aside: the rule adds it).
func seriesMatches(series string, alert map[string]string) bool {
	for k, v := range alert {
		if k == "severity" {
			continue
		}
		if !strings.Contains(series, k+`="`+v+`"`) {
			return false
		}
	}
	return true
}

// promtool, from Debian's prometheus package, accepts the rules and their
// unit tests pass.
func TestAlertRulesWithPromtool(t *testing.T) {
	promtool := needs.Command(t, "prometheus", "promtool")[0]
	dir := filepath.Join(repoRoot(t), "deploy/prometheus")
	for _, args := range [][]string{
		{"check", "rules", "surfaces-alerts.yml"},
		{"test", "rules", "surfaces-alerts.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// The example scrape configuration and Grafana's provisioning point at
// the files the fullstack compose file mounts.
func TestObservabilityFilesAgreeWithCompose(t *testing.T) {
	root := repoRoot(t)
	c := loadCompose(t, "docker-compose.fullstack.yml")
	mounts := map[string]string{} // container path → repository path
	for _, name := range []string{"prometheus", "grafana"} {
		svc, ok := c.Services[name]
		if !ok {
			t.Fatalf("the fullstack compose file has no %s service", name)
		}
		for _, v := range svc.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && strings.HasPrefix(parts[0], "./") {
				mounts[parts[1]] = parts[0]
			}
		}
	}
	// hostPath maps a path inside a container to the repository's file.
	hostPath := func(p string) string {
		for in, out := range mounts {
			if rest, ok := strings.CutPrefix(p, in+"/"); ok {
				return filepath.Join(root, out, rest)
			}
		}
		t.Errorf("%s is not in a mounted directory (%v)", p, mounts)
		return ""
	}
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, filepath.Join(root, "deploy/prometheus/prometheus.yml"), &prom)
	if len(prom.ScrapeConfigs) != 1 || prom.ScrapeConfigs[0].JobName != "surfaces" {
		t.Errorf("scrape configs %+v: want the job \"surfaces\" the rules expect", prom.ScrapeConfigs)
	} else if targets := prom.ScrapeConfigs[0].StaticConfigs; len(targets) != 1 || !slices.Equal(targets[0].Targets, []string{"surfaces:8080"}) {
		t.Errorf("scrape targets %+v: want the bot's http.listen in the compose file, surfaces:8080", targets)
	}
	if c.Services["surfaces"].Environment["SURFACES_HTTP_LISTEN"] != "0.0.0.0:8080" {
		t.Error("the bot does not listen on :8080 in the compose file")
	}
	if !slices.ContainsFunc(c.Services["prometheus"].Command, func(a string) bool {
		return a == "--config.file=/etc/prometheus/surfaces/prometheus.yml"
	}) {
		t.Error("the prometheus service does not load deploy/prometheus/prometheus.yml")
	}
	for _, f := range prom.RuleFiles {
		if p := hostPath(f); p != filepath.Join(root, harness.AlertRulesFile) {
			t.Errorf("rule file %s is %s in the repository, want %s", f, p, harness.AlertRulesFile)
		}
	}
	var dashboards struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join(root, "deploy/grafana/provisioning/dashboards/surfaces.yml"), &dashboards)
	if len(dashboards.Providers) != 1 || hostPath(dashboards.Providers[0].Options.Path) != filepath.Join(root, harness.DashboardFile) {
		t.Errorf("Grafana's dashboard provider %+v does not load %s", dashboards.Providers, harness.DashboardFile)
	}
	var datasources struct {
		Datasources []struct {
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join(root, "deploy/grafana/provisioning/datasources/prometheus.yml"), &datasources)
	if len(datasources.Datasources) != 1 || datasources.Datasources[0].Type != "prometheus" ||
		datasources.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("Grafana's data sources %+v: want the prometheus service", datasources.Datasources)
	}
	if p := c.Services["grafana"].Environment["GF_PATHS_PROVISIONING"]; hostPath(p+"/x") != filepath.Join(root, "deploy/grafana/provisioning/x") {
		t.Errorf("GF_PATHS_PROVISIONING %q is not deploy/grafana/provisioning", p)
	}
}

func readYAML(t *testing.T, path string, out any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
