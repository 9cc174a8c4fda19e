// Command refagent runs the reference agent (PRODUCT R9): several agents on
// one port under /agent_N/ prefixes, as the platform's proxy serves them.
//
//	refagent -listen 127.0.0.1:0 -agents 2 -mode echo
//	refagent -agent agent-0=/tmp/ws0 -agent agent-7=/tmp/ws7 -mode scripted -script s.yaml
//
// It prints "listening on HOST:PORT" on stdout once it accepts connections,
// and exits cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/agents/refagent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "refagent:", err)
		}
		os.Exit(2)
	}
}

// agentFlags collects repeated -agent id=workspace flags.
type agentFlags []refagent.Agent

func (a *agentFlags) String() string { return fmt.Sprint(len(*a)) }

func (a *agentFlags) Set(v string) error {
	id, ws, ok := strings.Cut(v, "=")
	if !ok || id == "" || ws == "" {
		return fmt.Errorf("want id=workspace, got %q", v)
	}
	*a = append(*a, refagent.Agent{ID: id, Workspace: ws})
	return nil
}

// run parses args, serves until ctx is done and returns.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("refagent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var explicit agentFlags
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	count := fs.Int("agents", 0, "serve agent-0..agent-(N-1) under /agent_0/.. with workspaces ROOT/0..")
	fs.Var(&explicit, "agent", "serve agent `id=workspace` under /id_with_underscores/ (repeatable)")
	root := fs.String("workspace-root", "", "workspace root for -agents (default: a new temporary directory)")
	mode := fs.String("mode", "echo", "echo, scripted or openai")
	script := fs.String("script", "", "script file for -mode scripted (YAML or JSON)")
	chunkDelay := fs.Duration("chunk-delay", 20*time.Millisecond, "pause between echo chunks")
	slowDelay := fs.Duration("slow-delay", 200*time.Millisecond, "pause between /slow chunks")
	openaiURL := fs.String("openai-url", "", "OpenAI-compatible API base, e.g. http://127.0.0.1:11434/v1")
	openaiModel := fs.String("openai-model", "", "model name for -mode openai")
	openaiKeyEnv := fs.String("openai-key-env", "OPENAI_API_KEY", "environment variable holding the API key")
	logLevel := fs.String("log-level", "info", "zerolog level (debug logs every message received)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level, err := zerolog.ParseLevel(*logLevel)
	if err != nil {
		return fmt.Errorf("failed to parse -log-level: %w", err)
	}
	log := zerolog.New(stderr).Level(level).With().Timestamp().Str("component", "refagent").Logger()
	ctx = log.WithContext(ctx)

	cfg := refagent.Config{Mode: refagent.Mode(*mode), ChunkDelay: *chunkDelay, SlowDelay: *slowDelay,
		OpenAI: refagent.OpenAIConfig{URL: *openaiURL, Model: *openaiModel, APIKey: os.Getenv(*openaiKeyEnv)}}
	if cfg.Agents, err = agentList(explicit, *count, *root); err != nil {
		return err
	}
	if *script != "" {
		if cfg.Script, err = refagent.LoadScript(*script); err != nil {
			return err
		}
	}
	srv, err := refagent.New(cfg)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("failed to listen: %w", err)
	}
	for _, a := range cfg.Agents {
		log.Info().Str("agent_id", a.ID).Str("prefix", refagent.AgentPrefix(a.ID)).Str("workspace", a.Workspace).Msg("serving agent")
	}
	fmt.Fprintf(stdout, "listening on %s\n", l.Addr())
	return srv.Serve(ctx, l)
}

// agentList builds the agents from -agent flags or from -agents N.
func agentList(explicit agentFlags, count int, root string) ([]refagent.Agent, error) {
	switch {
	case len(explicit) > 0 && count > 0:
		return nil, errors.New("use either -agent or -agents, not both")
	case len(explicit) > 0:
		return explicit, nil
	case count < 0:
		return nil, errors.New("-agents must be positive")
	case count == 0:
		count = 1
	}
	if root == "" {
		dir, err := os.MkdirTemp("", "refagent-")
		if err != nil {
			return nil, fmt.Errorf("failed to create workspace root: %w", err)
		}
		root = dir
	}
	list := make([]refagent.Agent, count)
	for i := range list {
		ws := filepath.Join(root, strconv.Itoa(i))
		if err := os.MkdirAll(ws, 0o755); err != nil {
			return nil, fmt.Errorf("failed to create workspace: %w", err)
		}
		list[i] = refagent.Agent{ID: "agent-" + strconv.Itoa(i), Workspace: ws}
	}
	return list, nil
}
