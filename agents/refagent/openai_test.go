package refagent

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
)

// fakeOpenAI is an OpenAI-compatible SSE endpoint that answers "Hello" in
// two deltas and records the conversations it was sent.
type fakeOpenAI struct {
	mu       sync.Mutex
	requests [][]chatMessage
	fail     bool
}

func newFakeOpenAI(t *testing.T) (*fakeOpenAI, string) {
	f := &fakeOpenAI{}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, srv.URL + "/v1"
}

func (f *fakeOpenAI) serve(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model    string        `json:"model"`
		Stream   bool          `json:"stream"`
		Messages []chatMessage `json:"messages"`
	}
	if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer k" ||
		json.NewDecoder(r.Body).Decode(&req) != nil || !req.Stream || req.Model != "m" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, req.Messages)
	fail := f.fail
	f.mu.Unlock()
	if fail {
		http.Error(w, `{"error":"overloaded"}`, http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	for _, line := range []string{
		`: keep-alive comment`,
		`data: {"choices":[{"delta":{"role":"assistant"}}]}`,
		`data: {"choices":[{"delta":{"tool_calls":[{"id":"t1","function":{"name":"lookup","arguments":"{}"}}]}}]}`,
		`data: {"choices":[{"delta":{"content":"Hel"}}]}`,
		`data: {"choices":[{"delta":{"content":"lo"}}]}`,
		`data: {"choices":[],"usage":{"total_tokens":12}}`,
		`data: [DONE]`,
	} {
		fmt.Fprintf(w, "%s\n\n", line)
		w.(http.Flusher).Flush()
	}
}

func (f *fakeOpenAI) conversations() [][]chatMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]chatMessage(nil), f.requests...)
}

func TestOpenAIModeStreamsAndKeepsHistory(t *testing.T) {
	fake, url := newFakeOpenAI(t)
	r := newTestRef(t, Config{Mode: ModeOpenAI, OpenAI: OpenAIConfig{URL: url, Model: "m", APIKey: "k", SystemPrompt: "be brief"}})
	c := r.dial(0, "1", clientOpts)
	evs := runTurn(t, c, actors.UserMessage{Text: "hi"})
	if text(evs) != "Hello" || count(evs, actors.AgentToolCall) != 1 {
		t.Fatalf("events = %+v", evs)
	}
	if end := last(t, evs); end.Kind != actors.AgentEnd || end.TokensUsed != 12 {
		t.Fatalf("end = %+v", end)
	}
	runTurn(t, c, actors.UserMessage{Text: "again"})
	// A new chat_id is a fresh context.
	runTurn(t, r.dial(0, "2", clientOpts), actors.UserMessage{Text: "new chat"})

	sys := chatMessage{Role: "system", Content: "be brief"}
	want := [][]chatMessage{
		{sys, {Role: "user", Content: "hi"}},
		{sys, {Role: "user", Content: "hi"}, {Role: "assistant", Content: "Hello"}, {Role: "user", Content: "again"}},
		{sys, {Role: "user", Content: "new chat"}},
	}
	if got := fake.conversations(); !reflect.DeepEqual(got, want) {
		t.Fatalf("conversations = %+v\nwant %+v", got, want)
	}
}

func TestOpenAIUpstreamFailure(t *testing.T) {
	fake, url := newFakeOpenAI(t)
	fake.fail = true
	r := newTestRef(t, Config{Mode: ModeOpenAI, OpenAI: OpenAIConfig{URL: url + "/chat/completions", Model: "m", APIKey: "k"}})
	c := r.dial(0, "1", clientOpts)
	end := last(t, runTurn(t, c, actors.UserMessage{Text: "hi"}))
	if end.Kind != actors.AgentFailed || !errors.Is(end.Err, actors.ErrAgentReported) {
		t.Fatalf("end = %+v", end)
	}
	fake.mu.Lock()
	fake.fail = false
	fake.mu.Unlock()
	// The failed turn left no history behind.
	runTurn(t, c, actors.UserMessage{Text: "retry"})
	convs := fake.conversations()
	if got := convs[len(convs)-1]; len(got) != 1 || got[0].Content != "retry" {
		t.Fatalf("retry conversation = %+v", got)
	}
}

func TestNewConfigErrors(t *testing.T) {
	ws := t.TempDir()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no agents", Config{Mode: ModeEcho}},
		{"no workspace", Config{Mode: ModeEcho, Agents: []Agent{{ID: "a"}}}},
		{"duplicate prefix", Config{Mode: ModeEcho, Agents: []Agent{{ID: "a", Workspace: ws}, {ID: "a", Workspace: ws}}}},
		{"unknown mode", Config{Mode: "chat", Agents: []Agent{{ID: "a", Workspace: ws}}}},
		{"scripted without script", Config{Mode: ModeScripted, Agents: []Agent{{ID: "a", Workspace: ws}}}},
		{"openai without URL", Config{Mode: ModeOpenAI, Agents: []Agent{{ID: "a", Workspace: ws}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
