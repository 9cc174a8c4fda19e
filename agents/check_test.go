package agents

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/test/wait"
)

// echoResponder answers every USER_MESSAGE the agent receives with one text
// chunk "echo: <text>" and END with tokens_used 7, until the test ends.
func echoResponder(t *testing.T, a *testAgent) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case s := <-a.conns:
				go func() {
					for {
						select {
						case m := <-s.in:
							if m["type"] != TypeUserMessage {
								continue
							}
							text, _ := m["text"].(string)
							// Not trySend: the test may be over when a
							// write fails, and then t must not be used.
							_ = s.ws.Write(context.Background(), websocket.MessageText,
								[]byte(`{"type":"AGENT_EVENT_TEXT_CHUNK","text":"echo: `+text+`"}`))
							_ = s.ws.Write(context.Background(), websocket.MessageText,
								[]byte(`{"type":"AGENT_EVENT_END","tokens_used":7}`))
						case <-s.ended:
							return
						}
					}
				}()
			case <-stop:
				return
			}
		}
	}()
}

// closedPort is a loopback address nothing listens on any more.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestCheckGoodDownAndSilentAgents checks three agents on real loopback
// sockets in one call: one that works, one whose port is closed and one
// that accepts the WebSocket but never sends STATUS. The dialer's STATUS
// timeout is a minute, the check's 1 s: the silent agent's result coming
// back long before the minute shows that the check's timeout bounds it.
func TestCheckGoodDownAndSilentAgents(t *testing.T) {
	good := newTestAgent(t)
	echoResponder(t, good)
	silent := newTestAgent(t)
	silent.noStatus = true
	refs := []actors.AgentRef{
		{ID: "good", BaseURL: good.baseURL, WorkspacePath: t.TempDir()},
		{ID: "down", BaseURL: "http://" + closedPort(t) + "/agent_0/"},
		{ID: "silent", BaseURL: silent.baseURL},
	}
	opts := fastOpts
	opts.StatusTimeout = time.Minute
	d := NewDialer(opts)

	for _, message := range []string{"", "ping"} {
		t.Run("message="+message, func(t *testing.T) {
			chatID := ProbeChatID(time.Now())
			start := time.Now()
			results := d.Check(context.Background(), refs, CheckOptions{Message: message, Timeout: time.Second, ChatID: chatID})
			elapsed := time.Since(start)
			if len(results) != len(refs) {
				t.Fatalf("%d results for %d agents", len(results), len(refs))
			}
			for i, r := range results {
				if r.AgentID != refs[i].ID {
					t.Fatalf("result %d is for %q, want %q (registry order)", i, r.AgentID, refs[i].ID)
				}
				base, err := NormalizeBaseURL(refs[i].BaseURL)
				if err != nil {
					t.Fatal(err)
				}
				if want := EndpointURL(base, chatID); r.URL != want || r.ChatID != chatID {
					t.Errorf("%s: URL %q chat %q, want %q (the bot's URL for the probe's chat id)", r.AgentID, r.URL, r.ChatID, want)
				}
			}

			ok := results[0]
			if !ok.OK() || ok.Stage != CheckOK || ok.Err != nil {
				t.Fatalf("good agent: stage %s, err %v; want ok", ok.Stage, ok.Err)
			}
			if ok.Connect <= 0 || ok.Status <= 0 || ok.Total < ok.Connect+ok.Status {
				t.Errorf("good agent latencies: connect %s status %s total %s", ok.Connect, ok.Status, ok.Total)
			}
			if message == "" {
				if ok.Turn != 0 || ok.Reply != "" {
					t.Errorf("no message, yet a turn: %s %q", ok.Turn, ok.Reply)
				}
			} else {
				if ok.Reply != "echo: "+message || ok.TokensUsed != 7 || ok.Turn <= 0 {
					t.Errorf("turn: reply %q, tokens %d, took %s; want the echo, 7 tokens", ok.Reply, ok.TokensUsed, ok.Turn)
				}
			}

			down := results[1]
			if down.OK() || down.Stage != CheckConnect || down.Err == nil {
				t.Errorf("down agent: stage %s, err %v; want connect and an error", down.Stage, down.Err)
			}
			if down.Status != 0 || down.Turn != 0 {
				t.Errorf("down agent: later stages timed: %+v", down)
			}

			quiet := results[2]
			if quiet.OK() || quiet.Stage != CheckStatus || quiet.Err == nil {
				t.Errorf("silent agent: stage %s, err %v; want status and an error", quiet.Stage, quiet.Err)
			} else if !strings.Contains(quiet.Err.Error(), "timed out after 1s in stage status") {
				t.Errorf("silent agent: error %q does not say the check timed out waiting for STATUS", quiet.Err)
			}
			if quiet.Connect <= 0 {
				t.Errorf("silent agent: connected, yet no connect latency: %+v", quiet)
			}
			if elapsed >= opts.StatusTimeout {
				t.Errorf("Check took %s: the check's 1 s timeout did not bound the silent agent", elapsed)
			}
		})
	}
	// The good agent saw the probe's chat id in its URL.
	side := func() *agentSide {
		good.mu.Lock()
		defer good.mu.Unlock()
		return good.sides[0]
	}()
	if id, err := strconv.ParseInt(side.chatID, 10, 64); err != nil || id < 1e18 {
		t.Errorf("the agent saw chat id %q; want a decimal far above real ones", side.chatID)
	}
}

func TestProbeChatID(t *testing.T) {
	now := time.Date(2026, 4, 28, 11, 0, 0, 0, time.UTC)
	if got, want := ProbeChatID(now), strconv.FormatInt(now.UnixNano(), 10); got != want {
		t.Fatalf("ProbeChatID = %q, want %q", got, want)
	}
}

// The tests below run in a synctest bubble over pipes: their timeouts are
// virtual, so "returns at the check's timeout" is exact.

// startCheck runs Check for a's agent in a goroutine; the result arrives on
// the channel.
func startCheck(a *testAgent, opts Options, co CheckOptions) <-chan CheckResult {
	out := make(chan CheckResult, 1)
	go func() {
		out <- a.dialer(opts).Check(context.Background(), []actors.AgentRef{a.ref()}, co)[0]
	}()
	return out
}

func TestCheckTimeoutBoundsEachStage(t *testing.T) {
	long := virtualOpts
	long.StatusTimeout, long.TurnIdleTimeout = time.Hour, time.Hour
	t.Run("no STATUS", func(t *testing.T) {
		inBubble(t, func(t *testing.T) {
			a := newPipeAgent(t)
			a.noStatus = true
			start := time.Now()
			r := wait.Recv(t, startCheck(a, long, CheckOptions{Timeout: 3 * time.Second}), "the check")
			if r.Stage != CheckStatus || r.Err == nil {
				t.Fatalf("stage %s, err %v; want status and an error", r.Stage, r.Err)
			}
			if elapsed := time.Since(start); elapsed != 3*time.Second || r.Total != 3*time.Second {
				t.Fatalf("returned after %s (total %s); want exactly the 3 s timeout", elapsed, r.Total)
			}
		})
	})
	t.Run("no END", func(t *testing.T) {
		inBubble(t, func(t *testing.T) {
			a := newPipeAgent(t)
			start := time.Now()
			res := startCheck(a, long, CheckOptions{Message: "hi", Timeout: 3 * time.Second})
			s := a.accepted()
			if m := s.recv(); m["type"] != TypeUserMessage || m["text"] != "hi" {
				t.Fatalf("agent got %v", m)
			}
			s.send(`{"type":"AGENT_EVENT_TEXT_CHUNK","text":"thinking"}`)
			r := wait.Recv(t, res, "the check")
			if r.Stage != CheckTurn || r.Err == nil || !strings.Contains(r.Err.Error(), "timed out after 3s in stage turn") {
				t.Fatalf("stage %s, err %v; want a timed-out turn", r.Stage, r.Err)
			}
			if r.Reply != "thinking" {
				t.Errorf("reply %q", r.Reply)
			}
			if elapsed := time.Since(start); elapsed != 3*time.Second {
				t.Fatalf("returned after %s; want exactly the 3 s timeout", elapsed)
			}
			// The probe dropped the connection.
			s.waitEnd()
		})
	})
}

func TestCheckTurnOutcomes(t *testing.T) {
	t.Run("ERROR fails the turn with the agent's message", func(t *testing.T) {
		inBubble(t, func(t *testing.T) {
			a := newPipeAgent(t)
			res := startCheck(a, virtualOpts, CheckOptions{Message: "hi"})
			s := a.accepted()
			s.recv()
			s.send(`{"type":"ERROR","message":"model overloaded"}`)
			r := wait.Recv(t, res, "the check")
			if r.Stage != CheckTurn || r.OK() || r.Err == nil || !strings.Contains(r.Err.Error(), "model overloaded") {
				t.Fatalf("stage %s, err %v; want turn and the agent's message", r.Stage, r.Err)
			}
			// Closed normally: the agent is fine, only the turn failed.
			if err := s.waitEnd(); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Errorf("connection ended with %v, want a normal closure", err)
			}
		})
	})
	t.Run("a confirmation request is declined", func(t *testing.T) {
		inBubble(t, func(t *testing.T) {
			a := newPipeAgent(t)
			res := startCheck(a, virtualOpts, CheckOptions{Message: "delete everything"})
			s := a.accepted()
			s.recv()
			s.send(`{"type":"AGENT_EVENT_CONFIRM_REQUEST","id":"c-1","text":"Really?"}`)
			if m := s.recv(); m["type"] != TypeUserConfirm || m["id"] != "c-1" || m["approved"] != false {
				t.Fatalf("agent got %v, want USER_CONFIRM c-1 declined", m)
			}
			s.send(`{"type":"AGENT_EVENT_END"}`)
			if r := wait.Recv(t, res, "the check"); !r.OK() {
				t.Fatalf("stage %s, err %v", r.Stage, r.Err)
			}
		})
	})
	t.Run("upgrade refused", func(t *testing.T) {
		inBubble(t, func(t *testing.T) {
			a := newPipeAgent(t)
			ref := a.ref()
			ref.BaseURL = strings.Replace(ref.BaseURL, "agent_0", "nope", 1)
			r := a.dialer(virtualOpts).Check(context.Background(), []actors.AgentRef{ref}, CheckOptions{})[0]
			if r.Stage != CheckConnect || r.Err == nil || !strings.Contains(r.Err.Error(), "HTTP 404") {
				t.Fatalf("stage %s, err %v; want connect, HTTP 404", r.Stage, r.Err)
			}
		})
	})
	t.Run("bad base URL", func(t *testing.T) {
		r := NewDialer(fastOpts).Check(context.Background(), []actors.AgentRef{{ID: "x", BaseURL: "ftp://x/"}}, CheckOptions{})[0]
		if r.Stage != CheckConnect || r.Err == nil || r.URL != "" {
			t.Fatalf("%+v; want connect with an error and no URL", r)
		}
	})
}
