package refagent

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/agents"
	"github.com/surfaces-bot/surfaces/test/wait"
)

func TestServeShutsDownCleanly(t *testing.T) {
	cfg := Config{Mode: ModeEcho, Agents: []Agent{{ID: "agent-0", Workspace: t.TempDir()}}}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, l) }()

	ref := actors.AgentRef{ID: "agent-0", BaseURL: "http://" + l.Addr().String() + "/agent_0", WorkspacePath: cfg.Agents[0].Workspace}
	c, err := agents.NewDialer(clientOpts).Dial(context.Background(), ref, "1")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if end := last(t, runTurn(t, c, actors.UserMessage{Text: "x"})); end.Kind != actors.AgentEnd {
		t.Fatalf("end = %+v", end)
	}
	cancel()
	if err := wait.Recv(t, served, "Serve to return after its context ended"); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	wait.Recv(t, c.Done(), "the client connection to end after the shutdown")
	if !errors.Is(c.Err(), actors.ErrAgentDisconnected) || !strings.Contains(c.Err().Error(), "1001") {
		t.Fatalf("client Err = %v, want a 1001 closure", c.Err())
	}
}
