package agents

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Frame types of docs/agent-protocol.md. Client → agent: TypeUserMessage,
// TypeUserConfirm, TypeUserCancel. Agent → client: all others.
const (
	TypeUserMessage    = "USER_MESSAGE"
	TypeUserConfirm    = "USER_CONFIRM"
	TypeUserCancel     = "USER_CANCEL"
	TypeStatus         = "STATUS"
	TypeTextChunk      = "AGENT_EVENT_TEXT_CHUNK"
	TypeToolCallChunk  = "AGENT_EVENT_TOOL_CALL_CHUNK"
	TypeToolResult     = "AGENT_EVENT_TOOL_RESULT"
	TypeCustomUpdate   = "AGENT_EVENT_CUSTOM_UPDATE"
	TypeSendFile       = "AGENT_EVENT_SEND_FILE"
	TypeEnd            = "AGENT_EVENT_END"
	TypeError          = "ERROR"
	TypeConfirmRequest = "AGENT_EVENT_CONFIRM_REQUEST"
)

// UserMessageFrame starts a turn. Attachments is always encoded, as [] when
// empty: the platform's agent expects the field.
type UserMessageFrame struct {
	Type        string   `json:"type"`
	Text        string   `json:"text"`
	Attachments []string `json:"attachments"`
}

// MarshalJSON forces the type and a non-null attachments array.
func (f UserMessageFrame) MarshalJSON() ([]byte, error) {
	type plain UserMessageFrame
	f.Type = TypeUserMessage
	if f.Attachments == nil {
		f.Attachments = []string{}
	}
	return json.Marshal(plain(f))
}

// UserConfirmFrame answers an AGENT_EVENT_CONFIRM_REQUEST.
type UserConfirmFrame struct {
	Type     string `json:"type"`
	ID       string `json:"id"`
	Approved bool   `json:"approved"`
}

// StatusFrame says the agent is ready; it is sent once after connect.
type StatusFrame struct {
	Type    string `json:"type"`
	Status  string `json:"status,omitempty"`
	AgentID string `json:"agent_id,omitempty"`
	// Capabilities lists the optional extensions the agent speaks
	// (CapabilityCancel, CapabilityConfirm); absent or unknown means none.
	Capabilities []string `json:"capabilities,omitempty"`
}

// The capabilities an agent may list in STATUS.
const (
	CapabilityCancel  = "cancel"
	CapabilityConfirm = "confirm"
)

// UserCancelFrame asks the agent to stop the running turn (the cancel
// extension); it ends the turn with END within the cancel grace.
type UserCancelFrame struct {
	Type string `json:"type"`
}

// TextChunkFrame is the next piece of the reply.
type TextChunkFrame struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// ToolCallChunkFrame is progress: the agent is calling a tool. Args may be
// partial JSON, so it stays a string.
type ToolCallChunkFrame struct {
	Type string     `json:"type"`
	Name string     `json:"name,omitempty"`
	Args string     `json:"args,omitempty"`
	ID   FlexString `json:"id,omitempty"`
}

// ToolResultFrame is progress: a tool returned.
type ToolResultFrame struct {
	Type   string     `json:"type"`
	Name   string     `json:"name,omitempty"`
	ID     FlexString `json:"id,omitempty"`
	Result string     `json:"result,omitempty"`
}

// CustomUpdateFrame is free-form progress.
type CustomUpdateFrame struct {
	Type string          `json:"type"`
	Text string          `json:"text,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// SendFileFrame asks the bot to deliver a workspace file to the user.
type SendFileFrame struct {
	Type string `json:"type"`
	Path string `json:"path"`
}

// EndFrame ends the turn.
type EndFrame struct {
	Type       string    `json:"type"`
	TokensUsed FlexInt64 `json:"tokens_used,omitempty"`
	// Cancelled is set by an agent that ended the turn early on USER_CANCEL.
	Cancelled bool `json:"cancelled,omitempty"`
}

// ErrorFrame ends the turn with a failure the agent reports itself.
type ErrorFrame struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}

// ConfirmRequestFrame asks the user to approve an action; the turn waits for
// a UserConfirmFrame with the same ID.
type ConfirmRequestFrame struct {
	Type string     `json:"type"`
	ID   FlexString `json:"id"`
	Text string     `json:"text"`
}

// FlexString is a string field that also accepts a JSON number or null:
// agents built on other stacks send numeric ids.
type FlexString string

// UnmarshalJSON accepts a string, a number or null.
func (s *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*s = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = FlexString(v)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*s = FlexString(n.String())
	return nil
}

// FlexInt64 is an integer field that also accepts a float, a numeric string
// or null, because token counts come from loosely typed agents. Anything
// else decodes as 0 instead of failing the frame: the count is informative.
type FlexInt64 int64

// UnmarshalJSON never fails on a well-formed JSON value.
func (n *FlexInt64) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*n = 0
	switch x := v.(type) {
	case float64:
		*n = FlexInt64(x)
	case string:
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			*n = FlexInt64(f)
		}
	}
	return nil
}
