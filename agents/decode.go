package agents

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
)

// Decoded is one agent-to-client text frame as the client understands it.
type Decoded struct {
	// Type is the frame's type, also for types this package does not know.
	Type string
	// Event is the turn event the frame carries; its Kind is 0 for STATUS
	// and for unknown types, which are not turn events.
	Event actors.AgentEvent
	// Status is set when Type is TypeStatus.
	Status StatusFrame
}

// knownFields lists the fields each agent-to-client type defines; anything
// else is logged at debug and ignored (docs/agent-protocol.md robustness rules).
var knownFields = map[string][]string{
	TypeStatus:         {"type", "status", "agent_id", "capabilities"},
	TypeTextChunk:      {"type", "text"},
	TypeToolCallChunk:  {"type", "name", "args", "id"},
	TypeToolResult:     {"type", "name", "id", "result"},
	TypeCustomUpdate:   {"type", "text", "data"},
	TypeSendFile:       {"type", "path"},
	TypeEnd:            {"type", "tokens_used", "cancelled"},
	TypeError:          {"type", "message", "code"},
	TypeConfirmRequest: {"type", "id", "text"},
}

// DecodeFrame decodes one text frame sent by an agent. workspacePath is the
// agent's workspace on the bot's side, used to normalise SEND_FILE paths.
//
// Malformed JSON, a frame that is not an object, a missing or non-string
// type, or a known field of the wrong JSON type is an error wrapping
// actors.ErrAgentProtocol. Unknown types and unknown fields are not errors.
// A SEND_FILE whose path leaves the workspace is not an error either: it
// decodes to an AgentSendFile event whose Err wraps ErrUnsafePath (and
// actors.ErrAgentProtocol) and whose Path is the raw path, so that the room
// can tell the user what was refused.
func DecodeFrame(ctx context.Context, data []byte, workspacePath string) (Decoded, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return Decoded{}, protocolError("malformed JSON: %v", err)
	}
	rawType, ok := fields["type"]
	if !ok {
		return Decoded{}, protocolError("frame without type")
	}
	var typ string
	if err := json.Unmarshal(rawType, &typ); err != nil || typ == "" {
		return Decoded{}, protocolError("type is not a non-empty string")
	}
	log := zerolog.Ctx(ctx)
	known, ok := knownFields[typ]
	if !ok {
		log.Debug().Str("frame_type", typ).Msg("ignoring agent frame of unknown type")
		return Decoded{Type: typ}, nil
	}
	for name := range fields {
		if !contains(known, name) {
			log.Debug().Str("frame_type", typ).Str("field", name).Msg("ignoring unknown field of agent frame")
		}
	}
	d := Decoded{Type: typ}
	var err error
	switch typ {
	case TypeStatus:
		err = json.Unmarshal(data, &d.Status)
	case TypeTextChunk:
		var f TextChunkFrame
		err = json.Unmarshal(data, &f)
		d.Event = actors.AgentEvent{Kind: actors.AgentTextChunk, Text: f.Text}
	case TypeToolCallChunk:
		var f ToolCallChunkFrame
		err = json.Unmarshal(data, &f)
		d.Event = actors.AgentEvent{Kind: actors.AgentToolCall, Name: f.Name, ID: string(f.ID)}
	case TypeToolResult:
		var f ToolResultFrame
		err = json.Unmarshal(data, &f)
		d.Event = actors.AgentEvent{Kind: actors.AgentToolResult, Name: f.Name, ID: string(f.ID)}
	case TypeCustomUpdate:
		var f CustomUpdateFrame
		err = json.Unmarshal(data, &f)
		d.Event = actors.AgentEvent{Kind: actors.AgentCustomUpdate, Text: f.Text}
	case TypeSendFile:
		var f SendFileFrame
		err = json.Unmarshal(data, &f)
		d.Event = sendFileEvent(f.Path, workspacePath)
	case TypeEnd:
		var f EndFrame
		err = json.Unmarshal(data, &f)
		d.Event = actors.AgentEvent{Kind: actors.AgentEnd, TokensUsed: int64(f.TokensUsed)}
	case TypeError:
		var f ErrorFrame
		err = json.Unmarshal(data, &f)
		d.Event = errorEvent(f)
	case TypeConfirmRequest:
		var f ConfirmRequestFrame
		err = json.Unmarshal(data, &f)
		d.Event = actors.AgentEvent{Kind: actors.AgentConfirmRequest, ID: string(f.ID), Text: f.Text}
	}
	if err != nil {
		return Decoded{}, protocolError("bad %s frame: %v", typ, err)
	}
	return d, nil
}

func sendFileEvent(raw, workspacePath string) actors.AgentEvent {
	rel, err := NormalizeSendFilePath(raw, workspacePath)
	if err != nil {
		return actors.AgentEvent{Kind: actors.AgentSendFile, Path: raw,
			Err: fmt.Errorf("failed to accept file from agent: %w: %w", actors.ErrAgentProtocol, err)}
	}
	return actors.AgentEvent{Kind: actors.AgentSendFile, Path: rel}
}

func errorEvent(f ErrorFrame) actors.AgentEvent {
	err := actors.ErrAgentReported
	if f.Message != "" {
		err = fmt.Errorf("%w: %s", actors.ErrAgentReported, f.Message)
	}
	return actors.AgentEvent{Kind: actors.AgentFailed, Text: f.Message, Code: f.Code, Err: err}
}

// protocolError wraps actors.ErrAgentProtocol with what was wrong.
func protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", actors.ErrAgentProtocol, fmt.Sprintf(format, args...))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
