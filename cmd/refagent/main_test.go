package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/agents"
	"github.com/surfaces-bot/surfaces/test/wait"
)

// TestRunServesAndStops runs the command in-process: it prints its address,
// serves the agents it was told to, and returns when its context ends (what
// SIGINT/SIGTERM do through signal.NotifyContext).
func TestRunServesAndStops(t *testing.T) {
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-agents", "2", "-workspace-root", root, "-chunk-delay", "0s"}, pw, io.Discard)
		pw.Close()
	}()
	// The first stdout line, or the end of stdout (run returned first).
	first := make(chan string, 1)
	go func() {
		defer close(first)
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			first <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, pr) // run must never block on stdout
	}()
	line, ok := wait.RecvOK(t, first, "the first line on stdout")
	if !ok {
		t.Fatalf("run ended without printing a line: %v", wait.Recv(t, done, "run's result"))
	}
	port, ok := strings.CutPrefix(line, "listening on 127.0.0.1:")
	if !ok {
		t.Fatalf("first line = %q, want listening on 127.0.0.1:PORT", line)
	}
	addr := "127.0.0.1:" + port
	ref := actors.AgentRef{ID: "agent-1", BaseURL: "http://" + addr + "/agent_1/", WorkspacePath: root + "/1"}
	c, err := agents.NewDialer(agents.Options{PingInterval: -1}).Dial(context.Background(), ref, "5")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	ch, err := c.Turn(context.Background(), actors.UserMessage{Text: "/file a.txt"})
	if err != nil {
		t.Fatalf("Turn: %v", err)
	}
	var evs []actors.AgentEvent
	for {
		ev, ok := wait.RecvOK(t, ch, fmt.Sprintf("the next event or the end of the turn (events so far: %+v)", evs))
		if !ok {
			break
		}
		evs = append(evs, ev)
	}
	if len(evs) < 2 || evs[0].Kind != actors.AgentSendFile || evs[len(evs)-1].Kind != actors.AgentEnd {
		t.Fatalf("events = %+v, want SEND_FILE first and END last", evs)
	}
	cancel()
	if err := wait.Recv(t, done, "run to return after its context ended"); err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestRunFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"both agent flags", []string{"-agents", "2", "-agent", "a=/tmp"}},
		{"bad agent flag", []string{"-agent", "nope"}},
		{"unknown mode", []string{"-mode", "chat"}},
		{"missing script", []string{"-mode", "scripted", "-script", "/nonexistent.yaml"}},
		{"bad log level", []string{"-log-level", "loud"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-workspace-root", t.TempDir()}, tc.args...)
			if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
