package refagent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/agents"
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
	}{
		{"garbage", actors.ErrAgentProtocol, "partial"},
		{"untyped", actors.ErrAgentProtocol, ""},
		{"binary", actors.ErrAgentProtocol, ""},
		// The script hangs forever, so only the idle timeout can end the turn.
		{"silence", actors.ErrAgentTimeout, "thinking"},
		{"drop", actors.ErrAgentDisconnected, "partial"},
		{"close", actors.ErrAgentDisconnected, ""},
	} {
		t.Run(tc.trigger, func(t *testing.T) {
			r := newScripted(t)
			opts := clientOpts
			opts.TurnIdleTimeout = 50 * time.Millisecond
			c := r.dial(0, "1", opts)
			evs := runTurn(t, c, actors.UserMessage{Text: tc.trigger})
			if end := last(t, evs); end.Kind != actors.AgentFailed || !errors.Is(end.Err, tc.want) {
				t.Fatalf("end = %+v, want %v", end, tc.want)
			}
			if text(evs) != tc.partial {
				t.Fatalf("text = %q, want %q", text(evs), tc.partial)
			}
			select {
			case <-c.Done():
			case <-time.After(hangGuard):
				t.Fatal("connection still open")
			}
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
	if ev := <-ch; ev.Kind != actors.AgentConfirmRequest || ev.ID != "c-1" {
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
		ok           bool
	}{
		{"no STATUS", "on_connect: []\ndefault: []\n", false},
		{"garbage before STATUS", "on_connect:\n  - raw: nope\ndefault: []\n", false},
		{"late STATUS", "on_connect:\n  - {delay: 1ms, type: STATUS}\ndefault: []\n", true},
		{"JSON script", `{"on_connect":[{"type":"STATUS","agent_id":"x"}],"default":[{"type":"AGENT_EVENT_END"}]}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := ParseScript([]byte(tc.script))
			if err != nil {
				t.Fatalf("ParseScript: %v", err)
			}
			r := newTestRef(t, Config{Mode: ModeScripted, Script: sc})
			opts := clientOpts
			if !tc.ok {
				opts.StatusTimeout = 50 * time.Millisecond // the script never sends STATUS
			}
			c, err := agents.NewDialer(opts).Dial(context.Background(), r.ref(0), "1")
			if tc.ok != (err == nil) {
				t.Fatalf("Dial err = %v, want ok=%v", err, tc.ok)
			}
			if err == nil {
				_ = c.Close()
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
