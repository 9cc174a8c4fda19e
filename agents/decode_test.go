package agents

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
)

func TestDecodeFrameEvents(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame string
		want  actors.AgentEvent
	}{
		{"text chunk", `{"type":"AGENT_EVENT_TEXT_CHUNK","text":"Hel"}`,
			actors.AgentEvent{Kind: actors.AgentTextChunk, Text: "Hel"}},
		{"text chunk unknown field", `{"type":"AGENT_EVENT_TEXT_CHUNK","text":"x","seq":3,"meta":{"a":1}}`,
			actors.AgentEvent{Kind: actors.AgentTextChunk, Text: "x"}},
		{"tool call", `{"type":"AGENT_EVENT_TOOL_CALL_CHUNK","name":"search","args":"{\"q\":","id":"call-1"}`,
			actors.AgentEvent{Kind: actors.AgentToolCall, Name: "search", ID: "call-1"}},
		{"tool call numeric id", `{"type":"AGENT_EVENT_TOOL_CALL_CHUNK","id":7}`,
			actors.AgentEvent{Kind: actors.AgentToolCall, ID: "7"}},
		{"tool result", `{"type":"AGENT_EVENT_TOOL_RESULT","name":"search","id":"call-1","result":"3 hits"}`,
			actors.AgentEvent{Kind: actors.AgentToolResult, Name: "search", ID: "call-1"}},
		{"custom update", `{"type":"AGENT_EVENT_CUSTOM_UPDATE","text":"thinking","data":{"step":2}}`,
			actors.AgentEvent{Kind: actors.AgentCustomUpdate, Text: "thinking"}},
		{"send file relative", `{"type":"AGENT_EVENT_SEND_FILE","path":"output/r.pdf"}`,
			actors.AgentEvent{Kind: actors.AgentSendFile, Path: "output/r.pdf"}},
		{"send file workspace", `{"type":"AGENT_EVENT_SEND_FILE","path":"/workspace/output/r.pdf"}`,
			actors.AgentEvent{Kind: actors.AgentSendFile, Path: "output/r.pdf"}},
		{"end", `{"type":"AGENT_EVENT_END","tokens_used":42}`,
			actors.AgentEvent{Kind: actors.AgentEnd, TokensUsed: 42}},
		{"end without tokens", `{"type":"AGENT_EVENT_END"}`,
			actors.AgentEvent{Kind: actors.AgentEnd}},
		{"end float tokens", `{"type":"AGENT_EVENT_END","tokens_used":12.0}`,
			actors.AgentEvent{Kind: actors.AgentEnd, TokensUsed: 12}},
		{"end string tokens", `{"type":"AGENT_EVENT_END","tokens_used":"9"}`,
			actors.AgentEvent{Kind: actors.AgentEnd, TokensUsed: 9}},
		{"end null tokens", `{"type":"AGENT_EVENT_END","tokens_used":null}`,
			actors.AgentEvent{Kind: actors.AgentEnd}},
		{"confirm request", `{"type":"AGENT_EVENT_CONFIRM_REQUEST","id":"c-17","text":"Send it?"}`,
			actors.AgentEvent{Kind: actors.AgentConfirmRequest, ID: "c-17", Text: "Send it?"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := DecodeFrame(context.Background(), []byte(tc.frame), "/agents/7")
			if err != nil {
				t.Fatalf("DecodeFrame: %v", err)
			}
			if d.Event != tc.want {
				t.Fatalf("event = %+v, want %+v", d.Event, tc.want)
			}
		})
	}
}

func TestDecodeFrameErrorFrame(t *testing.T) {
	d, err := DecodeFrame(context.Background(), []byte(`{"type":"ERROR","message":"model overloaded","code":"busy"}`), "/w")
	if err != nil {
		t.Fatalf("DecodeFrame: %v", err)
	}
	ev := d.Event
	if ev.Kind != actors.AgentFailed || ev.Text != "model overloaded" || ev.Code != "busy" {
		t.Fatalf("event = %+v", ev)
	}
	if !errors.Is(ev.Err, actors.ErrAgentReported) {
		t.Fatalf("Err = %v, want ErrAgentReported", ev.Err)
	}
}

func TestDecodeFrameNonEvents(t *testing.T) {
	for _, tc := range []struct{ name, frame, typ string }{
		{"status", `{"type":"STATUS","status":"ready","agent_id":"agent-0"}`, TypeStatus},
		{"unknown type", `{"type":"AGENT_EVENT_HEARTBEAT","n":1}`, "AGENT_EVENT_HEARTBEAT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := DecodeFrame(context.Background(), []byte(tc.frame), "/w")
			if err != nil {
				t.Fatalf("DecodeFrame: %v", err)
			}
			if d.Type != tc.typ || d.Event.Kind != 0 {
				t.Fatalf("decoded = %+v", d)
			}
		})
	}
	d, _ := DecodeFrame(context.Background(), []byte(`{"type":"STATUS","status":"ready","agent_id":"agent-0"}`), "/w")
	if d.Status.AgentID != "agent-0" || d.Status.Status != "ready" {
		t.Fatalf("status = %+v", d.Status)
	}
}

func TestDecodeFrameProtocolErrors(t *testing.T) {
	for _, tc := range []struct{ name, frame string }{
		{"malformed JSON", `{"type":"AGENT_EVENT_TEXT_CHUNK","text":`},
		{"not an object", `["AGENT_EVENT_END"]`},
		{"string", `"hello"`},
		{"null", `null`},
		{"empty", ``},
		{"no type", `{"text":"hi"}`},
		{"numeric type", `{"type":3}`},
		{"empty type", `{"type":""}`},
		{"text of wrong type", `{"type":"AGENT_EVENT_TEXT_CHUNK","text":5}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeFrame(context.Background(), []byte(tc.frame), "/w")
			if !errors.Is(err, actors.ErrAgentProtocol) {
				t.Fatalf("err = %v, want ErrAgentProtocol", err)
			}
		})
	}
}

func TestDecodeFrameUnsafeSendFile(t *testing.T) {
	d, err := DecodeFrame(context.Background(), []byte(`{"type":"AGENT_EVENT_SEND_FILE","path":"../../etc/passwd"}`), "/agents/7")
	if err != nil {
		t.Fatalf("DecodeFrame: %v", err)
	}
	if d.Event.Kind != actors.AgentSendFile || d.Event.Path != "../../etc/passwd" {
		t.Fatalf("event = %+v", d.Event)
	}
	if !errors.Is(d.Event.Err, ErrUnsafePath) || !errors.Is(d.Event.Err, actors.ErrAgentProtocol) {
		t.Fatalf("Err = %v, want ErrUnsafePath and ErrAgentProtocol", d.Event.Err)
	}
}

func TestUserMessageFrameAttachmentsAlwaysPresent(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   UserMessageFrame
		want string
	}{
		{"nil attachments", UserMessageFrame{Text: "hi"}, `{"type":"USER_MESSAGE","text":"hi","attachments":[]}`},
		{"empty text", UserMessageFrame{Attachments: []string{"incoming/a.pdf"}},
			`{"type":"USER_MESSAGE","text":"","attachments":["incoming/a.pdf"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(b) != tc.want {
				t.Fatalf("got %s, want %s", b, tc.want)
			}
		})
	}
}
