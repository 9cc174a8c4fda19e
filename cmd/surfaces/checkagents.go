package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/agents"
)

// cmdCheckAgents probes the registry's agents (PRODUCT R8.1): for each one,
// concurrently, it opens the WebSocket the bot would open (same URL, same
// dialer and timeouts from the configuration), waits for STATUS and, with
// --message, runs one turn until its END. The probe connects with its own
// chat id, the Unix time in nanoseconds (agents.ProbeChatID): a decimal like
// the real ones but far above them, so no user's conversation is touched.
// It needs neither the state directory nor the homeserver, so it runs
// beside a running bot. Exit 0 when every agent passed, 1 when one failed,
// 2 for a bad command line or configuration.
func cmdCheckAgents(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	fs, path := commandFlags("check-agents", stderr)
	only := fs.String("agent", "", "check only the agent with this registry id")
	message := fs.String("message", "", "also run one turn with this text and wait for its END")
	timeout := fs.Duration("timeout", agents.DefaultCheckTimeout, "time allowed per agent, all stages together")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if !parseArgs(fs, args, stderr) {
		return exitUsage
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "surfaces check-agents: --timeout must be positive, got %s\n", *timeout)
		return exitUsage
	}
	cfg, ok := loadConfigFile(*path, env, stderr)
	if !ok {
		return exitUsage
	}
	// The results say what failed; the connection's own warnings would only
	// repeat it on stderr.
	log := newLogger(cfg.Log, stderr)
	ctx = log.Level(max(log.GetLevel(), zerolog.ErrorLevel)).WithContext(ctx)
	wired, err := newWiring(cfg)
	if err != nil {
		return failed(stderr, err)
	}
	refs := wired.registry.Agents()
	if *only != "" {
		ref, ok := wired.registry.Agent(*only)
		if !ok {
			ids := make([]string, len(refs))
			for i, r := range refs {
				ids[i] = r.ID
			}
			fmt.Fprintf(stderr, "surfaces check-agents: no agent %q in the registry (agents: %s)\n", *only, strings.Join(ids, ", "))
			return exitUsage
		}
		refs = []actors.AgentRef{ref}
	}
	opts := agents.CheckOptions{Message: *message, Timeout: *timeout, ChatID: agents.ProbeChatID(time.Now())}
	results := wired.dialer.Check(ctx, refs, opts)
	allOK := true
	for _, r := range results {
		allOK = allOK && r.OK()
	}
	if *asJSON {
		err = printCheckJSON(stdout, results, opts, allOK)
	} else {
		err = printCheckTable(stdout, results, opts)
	}
	if err != nil {
		return failed(stderr, err)
	}
	if !allOK {
		return exitFailed
	}
	return exitOK
}

// printCheckTable prints one row per agent and a summary line:
//
//	AGENT    STAGE    LATENCY  ERROR
//	agent-0  ok       4.1ms
//	agent-1  connect  0.6ms    failed to WebSocket dial: ... connection refused
//	1 of 2 agents OK (probe chat id 1777374000123456789)
func printCheckTable(w io.Writer, results []agents.CheckResult, opts agents.CheckOptions) error {
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tSTAGE\tLATENCY\tERROR")
	passed := 0
	for _, r := range results {
		errText := ""
		if r.Err != nil {
			errText = oneLine(r.Err.Error())
		} else {
			passed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.AgentID, r.Stage, formatLatency(r.Total), errText)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("failed to print the results: %w", err)
	}
	// A passing row's empty ERROR cell leaves padding behind.
	for line := range strings.Lines(table.String()) {
		fmt.Fprintln(w, strings.TrimRight(line, " \n"))
	}
	if _, err := fmt.Fprintf(w, "%d of %s OK (probe chat id %s)\n", passed, plural(len(results), "agent"), opts.ChatID); err != nil {
		return fmt.Errorf("failed to print the results: %w", err)
	}
	return nil
}

// checkJSON is the --json output.
type checkJSON struct {
	OK      bool             `json:"ok"`
	ChatID  string           `json:"chat_id"`
	Message string           `json:"message,omitempty"`
	Agents  []checkAgentJSON `json:"agents"`
}

// checkAgentJSON is one agent's result; a stage not reached has no time.
type checkAgentJSON struct {
	Agent      string  `json:"agent"`
	URL        string  `json:"url"`
	Stage      string  `json:"stage"`
	OK         bool    `json:"ok"`
	ConnectMS  float64 `json:"connect_ms,omitempty"`
	StatusMS   float64 `json:"status_ms,omitempty"`
	TurnMS     float64 `json:"turn_ms,omitempty"`
	TotalMS    float64 `json:"total_ms"`
	Reply      string  `json:"reply,omitempty"`
	TokensUsed int64   `json:"tokens_used,omitempty"`
	Error      string  `json:"error,omitempty"`
}

func printCheckJSON(w io.Writer, results []agents.CheckResult, opts agents.CheckOptions, allOK bool) error {
	out := checkJSON{OK: allOK, ChatID: opts.ChatID, Message: opts.Message, Agents: make([]checkAgentJSON, len(results))}
	for i, r := range results {
		a := checkAgentJSON{
			Agent: r.AgentID, URL: r.URL, Stage: string(r.Stage), OK: r.OK(),
			ConnectMS: millis(r.Connect), StatusMS: millis(r.Status), TurnMS: millis(r.Turn), TotalMS: millis(r.Total),
			Reply: r.Reply, TokensUsed: r.TokensUsed,
		}
		if r.Err != nil {
			a.Error = r.Err.Error()
		}
		out.Agents[i] = a
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("failed to print the results: %w", err)
	}
	return nil
}

// millis is d in milliseconds, to a microsecond.
func millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// formatLatency is "4.1ms" below a second and "1.25s" above.
func formatLatency(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// oneLine keeps a table row on one line whatever an error says.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
