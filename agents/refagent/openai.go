package refagent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/agents"
)

// OpenAIConfig configures ModeOpenAI.
type OpenAIConfig struct {
	// URL is the API base ("http://127.0.0.1:11434/v1") or the full
	// .../chat/completions URL.
	URL   string
	Model string
	// APIKey is sent as a Bearer token when not empty.
	APIKey string
	// SystemPrompt, when set, starts every conversation.
	SystemPrompt string
	// HTTPClient defaults to http.DefaultClient.
	HTTPClient *http.Client
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// openAIClient streams completions and keeps each chat's history in memory,
// keyed by agent and chat_id, as a platform agent keeps its context.
type openAIClient struct {
	cfg      OpenAIConfig
	endpoint string

	mu      sync.Mutex
	history map[string][]chatMessage
}

func newOpenAIClient(cfg OpenAIConfig) (*openAIClient, error) {
	if cfg.URL == "" || cfg.Model == "" {
		return nil, errors.New("failed to configure openai mode: URL and model are required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	endpoint := strings.TrimRight(cfg.URL, "/")
	if !strings.HasSuffix(endpoint, "/chat/completions") {
		endpoint += "/chat/completions"
	}
	return &openAIClient{cfg: cfg, endpoint: endpoint, history: map[string][]chatMessage{}}, nil
}

// streamChunk is the part of an SSE chat.completion.chunk the agent uses.
type streamChunk struct {
	Choices []struct {
		Delta struct {
			Content   string `json:"content"`
			ToolCalls []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *struct {
		TotalTokens int64 `json:"total_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// openAITurn streams one completion; upstream failures become ERROR frames
// and leave the history as it was, so the user can simply retry.
func (s *session) openAITurn(ctx context.Context, m agents.UserMessageFrame) error {
	c := s.srv.openai
	key := s.agent.ID + "/" + s.chatID
	user := chatMessage{Role: "user", Content: m.Text}
	if len(m.Attachments) > 0 {
		user.Content += "\n\n[attached files in the workspace: " + strings.Join(m.Attachments, ", ") + "]"
	}
	c.mu.Lock()
	msgs := append([]chatMessage(nil), c.history[key]...)
	c.mu.Unlock()
	if c.cfg.SystemPrompt != "" {
		msgs = append([]chatMessage{{Role: "system", Content: c.cfg.SystemPrompt}}, msgs...)
	}
	msgs = append(msgs, user)

	reply, tokens, err := c.stream(ctx, msgs, func(ev agents.TextChunkFrame, tool *agents.ToolCallChunkFrame) error {
		if tool != nil {
			return s.sendFrame(ctx, *tool)
		}
		return s.sendFrame(ctx, ev)
	})
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("openai upstream failed")
		return s.sendFrame(ctx, agents.ErrorFrame{Type: agents.TypeError, Message: "upstream model failed: " + err.Error(), Code: "upstream"})
	}
	c.mu.Lock()
	c.history[key] = append(c.history[key], user, chatMessage{Role: "assistant", Content: reply})
	c.mu.Unlock()
	return s.sendFrame(ctx, agents.EndFrame{Type: agents.TypeEnd, TokensUsed: agents.FlexInt64(tokens)})
}

// stream posts the conversation with stream=true and calls emit for every
// text delta and tool call; it returns the whole reply and the token count.
func (c *openAIClient) stream(ctx context.Context, msgs []chatMessage, emit func(agents.TextChunkFrame, *agents.ToolCallChunkFrame) error) (string, int64, error) {
	body, err := json.Marshal(map[string]any{
		"model": c.cfg.Model, "messages": msgs, "stream": true,
		"stream_options": map[string]any{"include_usage": true},
	})
	if err != nil {
		return "", 0, fmt.Errorf("failed to encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return "", 0, fmt.Errorf("failed to build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("failed to call %s: %w", c.endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return "", 0, fmt.Errorf("failed to call %s: HTTP %s: %s", c.endpoint, resp.Status, strings.TrimSpace(string(snippet)))
	}
	var reply strings.Builder
	var tokens int64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		data, ok := strings.CutPrefix(line, "data:")
		if !ok {
			continue // comments, event names, blank separators
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			return reply.String(), tokens, nil
		}
		var ch streamChunk
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			return "", 0, fmt.Errorf("failed to decode stream chunk: %w", err)
		}
		if ch.Error != nil {
			return "", 0, fmt.Errorf("upstream error: %s", ch.Error.Message)
		}
		if ch.Usage != nil {
			tokens = ch.Usage.TotalTokens
		}
		for _, choice := range ch.Choices {
			for _, tc := range choice.Delta.ToolCalls {
				f := agents.ToolCallChunkFrame{Type: agents.TypeToolCallChunk, Name: tc.Function.Name,
					Args: tc.Function.Arguments, ID: agents.FlexString(tc.ID)}
				if err := emit(agents.TextChunkFrame{}, &f); err != nil {
					return "", 0, err
				}
			}
			if choice.Delta.Content != "" {
				reply.WriteString(choice.Delta.Content)
				if err := emit(agents.TextChunkFrame{Type: agents.TypeTextChunk, Text: choice.Delta.Content}, nil); err != nil {
					return "", 0, err
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", 0, fmt.Errorf("failed to read stream: %w", err)
	}
	// Some servers end the stream without [DONE]; what arrived is the reply.
	return reply.String(), tokens, nil
}
