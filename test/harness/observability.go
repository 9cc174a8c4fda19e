package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"go.yaml.in/yaml/v3"
)

// Where the operators' files live, from the repository's root.
const (
	DashboardFile  = "deploy/grafana/surfaces.json"
	AlertRulesFile = "deploy/prometheus/surfaces-alerts.yml"
)

// DashboardQueries returns every PromQL query of the dashboard at path:
// its panels' targets (rows' nested panels included) and its query
// variables.
func DashboardQueries(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	type panel struct {
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var d struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("failed to read the dashboard %s: %w", path, err)
	}
	var out []string
	var walk func([]json.RawMessage) error
	walk = func(panels []json.RawMessage) error {
		for _, raw := range panels {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				return fmt.Errorf("failed to read a panel of %s: %w", path, err)
			}
			for _, t := range p.Targets {
				out = append(out, t.Expr)
			}
			if err := walk(p.Panels); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return nil, err
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			return nil, fmt.Errorf("failed to read a variable's query in %s: %w", path, err)
		}
		out = append(out, q.Query)
	}
	return out, nil
}

// AlertRule is one alerting rule of a Prometheus rules file.
type AlertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// AlertRules reads the alerting rules of the rules file at path, in order.
func AlertRules(path string) ([]AlertRule, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var file struct {
		Groups []struct {
			Rules []AlertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		return nil, fmt.Errorf("failed to read the rules %s: %w", path, err)
	}
	var out []AlertRule
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// WriteAlertRulesCopy writes the rules file at path into dir with the
// alerts named in waits given another "for:" (a test does not wait five
// minutes), and returns the copy's path.
func WriteAlertRulesCopy(path, dir string, waits map[string]string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var file map[string]any
	if err := yaml.Unmarshal(raw, &file); err != nil {
		return "", fmt.Errorf("failed to read the rules %s: %w", path, err)
	}
	groups, _ := file["groups"].([]any)
	for _, g := range groups {
		rules, _ := g.(map[string]any)["rules"].([]any)
		for _, r := range rules {
			rule, _ := r.(map[string]any)
			if wait, ok := waits[fmt.Sprint(rule["alert"])]; ok {
				rule["for"] = wait
			}
		}
	}
	out, err := yaml.Marshal(file)
	if err != nil {
		return "", err
	}
	copyPath := filepath.Join(dir, filepath.Base(path))
	return copyPath, os.WriteFile(copyPath, out, 0o644)
}

// metricName matches the names of the series an operator's query reads:
// the bot's own, the Go runtime's and the process's, and Prometheus's up.
var metricName = regexp.MustCompile(`\b(?:(?:surfaces|process|go)_[a-zA-Z0-9_:]+|up)\b`)

// MetricNames returns the metric names a PromQL expression reads, sorted,
// each once. Label names and values never match: they carry none of the
// prefixes (keep it so).
func MetricNames(expr string) []string {
	names := metricName.FindAllString(expr, -1)
	slices.Sort(names)
	return slices.Compact(names)
}
