package harness

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/surfaces-bot/surfaces/agents/refagent"
)

// serveAgent serves s.Agent on ln until StopAgent or Close.
func (s *Stack) serveAgent(ctx context.Context, ln net.Listener) {
	agentCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	s.stopAgent = func() {
		stop()
		<-done
	}
	s.agentDone = done
	go func() {
		defer close(done)
		_ = s.Agent.Serve(agentCtx, ln) // ends with stop
	}()
}

// StopAgent stops the reference agent as a crashed container would: its
// connections end and its port refuses connections until StartAgent.
func (s *Stack) StopAgent() {
	if s.stopAgent != nil {
		s.stopAgent()
		s.stopAgent = nil
	}
}

// StartAgent starts a fresh reference agent on the address the stopped one
// had (what it received before is forgotten).
func (s *Stack) StartAgent(ctx context.Context) error {
	if s.stopAgent != nil {
		return errors.New("the agent is already running")
	}
	agent, err := refagent.New(s.agentCfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.agentAddr)
	if err != nil {
		return fmt.Errorf("failed to listen for the agent again on %s: %w", s.agentAddr, err)
	}
	s.Agent = agent
	s.serveAgent(ctx, ln)
	return nil
}
