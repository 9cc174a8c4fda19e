package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/agents"
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
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	var addr string
	select {
	case line := <-lines:
		var ok bool
		if addr, ok = strings.CutPrefix(line, "listening on 127.0.0.1:"); !ok {
			t.Fatalf("first line = %q", line)
		}
		addr = "127.0.0.1:" + addr
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no listening line")
	}
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
	for ev := range ch {
		evs = append(evs, ev)
	}
	if evs[0].Kind != actors.AgentSendFile || evs[len(evs)-1].Kind != actors.AgentEnd {
		t.Fatalf("events = %+v", evs)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return")
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
