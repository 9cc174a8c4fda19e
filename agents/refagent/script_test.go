package refagent

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/agents"
	"github.com/surfaces-bot/surfaces/test/wait"
)

func newScripted(t *testing.T) *testRef {
	t.Helper()
	sc, err := LoadScript("testdata/script.yaml")
	if err != nil {
		t.Fatalf("LoadScript: %v", err)
	}
	return newTestRef(t, Config{Mode: ModeScripted, Script: sc})
}

func TestScriptedDefaultIsRobust(t *testing.T) {
	r := newScripted(t)
	c := r.dial(0, "1", clientOpts)
	evs := runTurn(t, c, actors.UserMessage{Text: "anything"})
	if text(evs) != "default reply" || count(evs, actors.AgentCustomUpdate) != 1 {
		t.Fatalf("events = %+v", evs)
	}
	if end := last(t, evs); end.Kind != actors.AgentEnd || end.TokensUsed != 3 {
		t.Fatalf("end = %+v", end)
	}
}

func TestScriptedMisbehaviour(t *testing.T) {
	for _, tc := range []struct {
		trigger string
		want    error
		partial string
		// idle replaces clientOpts.TurnIdleTimeout when set.
		idle time.Duration
	}{
		{"garbage", actors.ErrAgentProtocol, "partial", 0},
		{"untyped", actors.ErrAgentProtocol, "", 0},
		{"binary", actors.ErrAgentProtocol, "", 0},
		// The script hangs forever, so only the idle timeout can end the
		// turn: the one case that waits for it, for 1 s (real sockets).
		{"silence", actors.ErrAgentTimeout, "thinking", time.Second},
		{"drop", actors.ErrAgentDisconnected, "partial", 0},
		{"close", actors.ErrAgentDisconnected, "", 0},
	} {
		t.Run(tc.trigger, func(t *testing.T) {
			r := newScripted(t)
			opts := clientOpts
			if tc.idle != 0 {
				opts.TurnIdleTimeout = tc.idle
			}
			c := r.dial(0, "1", opts)
			evs := runTurn(t, c, actors.UserMessage{Text: tc.trigger})
			if end := last(t, evs); end.Kind != actors.AgentFailed || !errors.Is(end.Err, tc.want) {
				t.Fatalf("end = %+v, want %v", end, tc.want)
			}
			if text(evs) != tc.partial {
				t.Fatalf("text = %q, want %q", text(evs), tc.partial)
			}
			wait.Recv(t, c.Done(), "the connection to end after the failed turn")
			// The next turn reconnects and works.
			c2 := r.dial(0, "1", clientOpts)
			if end := last(t, runTurn(t, c2, actors.UserMessage{Text: "hi"})); end.Kind != actors.AgentEnd {
				t.Fatalf("after reconnect: %+v", end)
			}
		})
	}
}

func TestScriptedConfirm(t *testing.T) {
	r := newScripted(t)
	c := r.dial(0, "1", clientOpts)
	ch, err := c.Turn(context.Background(), actors.UserMessage{Text: "approve"})
	if err != nil {
		t.Fatalf("Turn: %v", err)
	}
	if ev := wait.Recv(t, ch, "the CONFIRM_REQUEST event"); ev.Kind != actors.AgentConfirmRequest || ev.ID != "c-1" {
		t.Fatalf("first = %+v", ev)
	}
	if err := c.Confirm(context.Background(), "c-1", true); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	evs := drain(t, ch)
	if evs[0].Kind != actors.AgentSendFile || evs[0].Path != "output/x.txt" || last(t, evs).Kind != actors.AgentEnd {
		t.Fatalf("events = %+v", evs)
	}
}

func TestScriptedOnConnect(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		// wantErr is the error Dial must wrap, nil for success; wantMsg
		// must appear in it.
		wantErr error
		wantMsg string
		// status replaces clientOpts.StatusTimeout when set.
		status time.Duration
	}{
		// The script never sends STATUS: the one case that waits for the
		// timeout, for 1 s (real sockets).
		{"no STATUS", "on_connect: []\ndefault: []\n", actors.ErrAgentUnavailable, "no STATUS within 1s", time.Second},
		{"garbage before STATUS", "on_connect:\n  - raw: nope\ndefault: []\n", actors.ErrAgentProtocol, "", 0},
		{"late STATUS", "on_connect:\n  - {delay: 1ms, type: STATUS}\ndefault: []\n", nil, "", 0},
		{"JSON script", `{"on_connect":[{"type":"STATUS","agent_id":"x"}],"default":[{"type":"AGENT_EVENT_END"}]}`, nil, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := ParseScript([]byte(tc.script))
			if err != nil {
				t.Fatalf("ParseScript: %v", err)
			}
			r := newTestRef(t, Config{Mode: ModeScripted, Script: sc})
			opts := clientOpts
			if tc.status != 0 {
				opts.StatusTimeout = tc.status
			}
			c, err := agents.NewDialer(opts).Dial(context.Background(), r.ref(0), "1")
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				_ = c.Close()
				return
			}
			if err == nil {
				_ = c.Close()
				t.Fatalf("Dial succeeded; want an error wrapping %q and ErrAgentUnavailable", tc.wantErr)
			}
			if !errors.Is(err, tc.wantErr) || !errors.Is(err, actors.ErrAgentUnavailable) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Dial err = %v, want it to wrap %q and ErrAgentUnavailable and to say %q", err, tc.wantErr, tc.wantMsg)
			}
		})
	}
}

func TestParseScriptErrors(t *testing.T) {
	for _, tc := range []struct{ name, script string }{
		{"empty", ""},
		{"not YAML", "default: ["},
		{"bad delay", "default:\n  - {delay: soon, type: X}\n"},
		{"two actions", "default:\n  - {raw: x, hang: true}\n"},
		{"no action", "default:\n  - {text: hi}\n"},
		{"bad close", "default:\n  - close: later\n"},
		{"step not a mapping", "default:\n  - just text\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseScript([]byte(tc.script)); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
