package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PrometheusOptions says what a test Prometheus watches.
type PrometheusOptions struct {
	// Job names the scrape job of Targets ("surfaces" when empty: the alert
	// rules expect it).
	Job string
	// Targets are host:port addresses whose /metrics it scrapes.
	Targets []string
	// RuleFiles are loaded as they are.
	RuleFiles []string
	// Interval is both the scrape and the rule evaluation interval (1 s
	// when zero, so that a test sees a rule fire in seconds).
	Interval time.Duration
}

// Prometheus is a real Prometheus server (Debian's package) on loopback,
// its data in a directory of its own. Close stops it.
type Prometheus struct {
	proc *Process
	url  string
	http *http.Client
}

// StartPrometheus starts bin (the prometheus binary) with a configuration
// written into dir and waits until it is ready.
func StartPrometheus(ctx context.Context, bin, dir string, opts PrometheusOptions) (*Prometheus, error) {
	if opts.Job == "" {
		opts.Job = "surfaces"
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	// JSON is YAML: no YAML library needed for a configuration this small.
	type staticConfig struct {
		Targets []string `json:"targets"`
	}
	config := map[string]any{
		"global": map[string]string{
			"scrape_interval":     opts.Interval.String(),
			"evaluation_interval": opts.Interval.String(),
		},
		"rule_files": opts.RuleFiles,
		"scrape_configs": []map[string]any{{
			"job_name":       opts.Job,
			"static_configs": []staticConfig{{Targets: opts.Targets}},
		}},
	}
	raw, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	configPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configPath, raw, 0o644); err != nil {
		return nil, fmt.Errorf("failed to write the Prometheus configuration: %w", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	proc, err := StartProcess(ctx, bin, []string{
		"--config.file=" + configPath,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr,
		"--log.level=warn",
	}, nil, filepath.Join(dir, "prometheus.log"))
	if err != nil {
		return nil, err
	}
	p := &Prometheus{proc: proc, url: "http://" + addr, http: &http.Client{Timeout: 10 * time.Second}}
	if err := p.waitReady(ctx); err != nil {
		_ = proc.Stop()
		return nil, err
	}
	return p, nil
}

func (p *Prometheus) waitReady(ctx context.Context) error {
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/-/ready", nil)
		if err != nil {
			return err
		}
		if resp, err := p.http.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.proc.Done():
			return fmt.Errorf("prometheus exited before it was ready (%v); last log lines:\n%s", p.proc.ExitErr(), p.proc.LogTail(30))
		case <-ctx.Done():
			return fmt.Errorf("failed to see Prometheus ready at %s: %w; last log lines:\n%s", p.url, ctx.Err(), p.proc.LogTail(30))
		case <-ticker.C:
		}
	}
}

// URL is the server's base URL.
func (p *Prometheus) URL() string { return p.url }

// LogTail returns the last n lines of its log.
func (p *Prometheus) LogTail(n int) string { return p.proc.LogTail(n) }

// Close stops the server.
func (p *Prometheus) Close() error { return p.proc.Stop() }

// Sample is one series of an instant query's answer.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs an instant PromQL query through the HTTP API.
func (p *Prometheus) Query(ctx context.Context, expr string) ([]Sample, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := p.get(ctx, "/api/v1/query?query="+url.QueryEscape(expr), &data); err != nil {
		return nil, fmt.Errorf("failed to query %q: %w", expr, err)
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q answered a %s, want a vector", expr, data.ResultType)
	}
	out := make([]Sample, 0, len(data.Result))
	for _, r := range data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: bad value %v", expr, r.Value[1])
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// Alert is one alert as /api/v1/alerts lists it.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	// State is pending or firing.
	State string `json:"state"`
}

// Alerts lists the alerts pending or firing now.
func (p *Prometheus) Alerts(ctx context.Context) ([]Alert, error) {
	var data struct {
		Alerts []Alert `json:"alerts"`
	}
	if err := p.get(ctx, "/api/v1/alerts", &data); err != nil {
		return nil, fmt.Errorf("failed to list the alerts: %w", err)
	}
	return data.Alerts, nil
}

// RuleHealth returns, for each rule loaded, its health ("ok", "err",
// "unknown" before its first evaluation) and its last error.
func (p *Prometheus) RuleHealth(ctx context.Context) (map[string]string, error) {
	var data struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := p.get(ctx, "/api/v1/rules", &data); err != nil {
		return nil, fmt.Errorf("failed to list the rules: %w", err)
	}
	out := map[string]string{}
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			out[r.Name] = strings.TrimSpace(r.Health + " " + r.LastError)
		}
	}
	return out, nil
}

// get reads an API answer's data into out.
func (p *Prometheus) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path, nil)
	if err != nil {
		return err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var envelope struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&envelope); err != nil {
		return fmt.Errorf("HTTP %d, not the API's JSON: %w", resp.StatusCode, err)
	}
	if envelope.Status != "success" {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, envelope.Error)
	}
	return json.Unmarshal(envelope.Data, out)
}
