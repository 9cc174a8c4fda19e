package refagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"go.yaml.in/yaml/v3"
)

// Script drives ModeScripted. In YAML (JSON works too):
//
//	on_connect:          # optional; default is one STATUS frame
//	  - {type: STATUS, status: ready}
//	default:             # played for any text not in turns
//	  - {type: AGENT_EVENT_TEXT_CHUNK, text: "hello"}
//	  - {type: AGENT_EVENT_END, tokens_used: 1}
//	turns:               # exact (trimmed) message text → steps
//	  garbage:
//	    - raw: "{not json"            # sent verbatim as a text frame
//	  binary:
//	    - binary: "bytes"             # sent as a binary frame
//	  silence:
//	    - hang: true                  # send nothing more this connection
//	  drop:
//	    - {type: AGENT_EVENT_TEXT_CHUNK, text: "partial"}
//	    - close: abrupt               # or a close code: 1000, 1011...
//	  approve:
//	    - {type: AGENT_EVENT_CONFIRM_REQUEST, id: c-1, text: "OK?"}
//	    - wait_confirm: true          # wait for USER_CONFIRM
//	    - {delay: 50ms, type: AGENT_EVENT_END}
//
// Every step may carry delay (a Go duration) that is waited before it. A
// step with type is a frame: all its keys but delay are sent as JSON.
type Script struct {
	// OnConnect replaces the STATUS frame when not nil.
	OnConnect []Step            `yaml:"on_connect"`
	Default   []Step            `yaml:"default"`
	Turns     map[string][]Step `yaml:"turns"`
}

// Step is one action of a script.
type Step struct {
	Delay       time.Duration
	Frame       map[string]any // a JSON frame; has "type"
	Raw         *string        // a text frame sent verbatim
	Binary      *string        // a binary frame
	Hang        bool           // stop and keep the connection open
	Close       int            // close with this code
	Drop        bool           // close without a close frame
	WaitConfirm bool           // wait for USER_CONFIRM
}

// LoadScript reads a script file.
func LoadScript(path string) (*Script, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read script: %w", err)
	}
	sc, err := ParseScript(data)
	if err != nil {
		return nil, fmt.Errorf("script %s: %w", path, err)
	}
	return sc, nil
}

// ParseScript parses a script from YAML or JSON.
func ParseScript(data []byte) (*Script, error) {
	var sc Script
	if err := yaml.Unmarshal(data, &sc); err != nil {
		return nil, fmt.Errorf("failed to parse script: %w", err)
	}
	if sc.Default == nil && len(sc.Turns) == 0 {
		return nil, errors.New("failed to parse script: it has neither default nor turns")
	}
	return &sc, nil
}

// StepsFor picks the steps for a message text: an exact match in Turns, else
// Default, else an ERROR frame saying nothing matched.
func (sc *Script) StepsFor(text string) []Step {
	if steps, ok := sc.Turns[strings.TrimSpace(text)]; ok {
		return steps
	}
	if sc.Default != nil {
		return sc.Default
	}
	return []Step{{Frame: map[string]any{"type": "ERROR", "message": "no script step for this message", "code": "script"}}}
}

// UnmarshalYAML reads one step mapping and checks that it does one thing.
func (st *Step) UnmarshalYAML(n *yaml.Node) error {
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return fmt.Errorf("line %d: a step must be a mapping: %w", n.Line, err)
	}
	if d, ok := m["delay"]; ok {
		s, _ := d.(string)
		dur, err := time.ParseDuration(s)
		if err != nil || dur < 0 {
			return fmt.Errorf("line %d: delay %v is not a duration like 50ms", n.Line, d)
		}
		st.Delay = dur
		delete(m, "delay")
	}
	actions := 0
	if _, ok := m["type"]; ok {
		st.Frame = m
		actions++
	}
	if v, ok := m["raw"]; ok && st.Frame == nil {
		s := fmt.Sprint(v)
		st.Raw = &s
		actions++
	}
	if v, ok := m["binary"]; ok && st.Frame == nil {
		s := fmt.Sprint(v)
		st.Binary = &s
		actions++
	}
	if v, ok := m["hang"]; ok && st.Frame == nil {
		st.Hang = v == true
		actions++
	}
	if v, ok := m["wait_confirm"]; ok && st.Frame == nil {
		st.WaitConfirm = v == true
		actions++
	}
	if v, ok := m["close"]; ok && st.Frame == nil {
		switch x := v.(type) {
		case int:
			st.Close = x
		case string:
			if x != "abrupt" {
				return fmt.Errorf("line %d: close must be a status code or \"abrupt\"", n.Line)
			}
			st.Drop = true
		default:
			return fmt.Errorf("line %d: close must be a status code or \"abrupt\"", n.Line)
		}
		actions++
	}
	if st.Frame == nil && (actions > 1 || (actions == 0 && len(m) > 0)) {
		return fmt.Errorf("line %d: a step needs exactly one of type, raw, binary, hang, close, wait_confirm", n.Line)
	}
	return nil
}

// play runs steps. It returns errHangup after a close step, so the session
// ends, and blocks until the connection ends after a hang step.
func (s *session) play(ctx context.Context, steps []Step) error {
	for _, st := range steps {
		if !sleep(ctx, st.Delay) {
			return ctx.Err()
		}
		var err error
		switch {
		case st.Frame != nil:
			var data []byte
			if data, err = json.Marshal(st.Frame); err == nil {
				err = s.sendRaw(ctx, websocket.MessageText, data)
			}
		case st.Raw != nil:
			err = s.sendRaw(ctx, websocket.MessageText, []byte(*st.Raw))
		case st.Binary != nil:
			err = s.sendRaw(ctx, websocket.MessageBinary, []byte(*st.Binary))
		case st.Hang:
			<-ctx.Done()
			return ctx.Err()
		case st.WaitConfirm:
			_, err = s.waitConfirm(ctx, "")
		case st.Drop:
			_ = s.ws.CloseNow()
			return errHangup
		case st.Close != 0:
			_ = s.ws.Close(websocket.StatusCode(st.Close), "scripted close "+strconv.Itoa(st.Close))
			return errHangup
		}
		if err != nil {
			return err
		}
	}
	return nil
}
