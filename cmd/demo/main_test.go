package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the goroutines that log.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// conversationLine is what the demo prints: a "who" column (demo, you,
// bot) or the indentation of a message's next lines.
var conversationLine = regexp.MustCompile(`^(demo   |you    |bot    |       |$)`)

// notConversation returns the lines of out that are not conversation
// (log lines, for instance).
func notConversation(out string) []string {
	var bad []string
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		if !conversationLine.MatchString(line) || strings.Contains(line, "\x1b[") {
			bad = append(bad, line)
		}
	}
	return bad
}

func TestLoggerLogsOnlyErrorsUnlessVerbose(t *testing.T) {
	var quiet bytes.Buffer
	log := newLogger(&quiet, false)
	log.Debug().Msg("request")
	log.Info().Str("url", "http://127.0.0.1:1").Msg("Dendrite is ready")
	log.Warn().Msg("sync failed, retrying")
	if quiet.Len() != 0 {
		t.Fatalf("the default logger wrote below error level:\n%s", quiet.String())
	}
	log.Error().Msg("sync loop stopped")
	if !strings.Contains(quiet.String(), "sync loop stopped") {
		t.Fatalf("the default logger dropped an error: %q", quiet.String())
	}

	var verbose bytes.Buffer
	log = newLogger(&verbose, true)
	log.Debug().Str("method", "GET").Msg("request")
	log.Info().Msg("Dendrite is ready")
	if !strings.Contains(verbose.String(), "request") || !strings.Contains(verbose.String(), "Dendrite is ready") {
		t.Fatalf("-v did not log debug and info: %q", verbose.String())
	}
	// The check the demo tests rely on does see log lines.
	if bad := notConversation(verbose.String()); len(bad) != 2 {
		t.Fatalf("notConversation found %d log lines, want 2: %q", len(bad), bad)
	}
	if bad := notConversation("demo   a status\nyou    (Chat 1) hi\nbot    (Chat 1) echo: hi\n       next line\n"); len(bad) != 0 {
		t.Fatalf("notConversation flagged conversation: %q", bad)
	}
}

func TestReadLines(t *testing.T) {
	lines := make(chan string)
	go readLines(strings.NewReader("hello\r\n\nhow are you\n!chats"), lines, make(chan struct{}))
	var got []string
	for l := range lines {
		got = append(got, l)
	}
	want := []string{"hello", "how are you", "!chats"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines = %q, want %q", got, want)
	}
}

// TestScriptedDemoPrintsOnlyTheConversation runs the demo as
// `go run ./cmd/demo` does, with the logs and the conversation in one
// stream, as on a terminal: nothing but the conversation shows.
func TestScriptedDemoPrintsOnlyTheConversation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Dendrite, the agent and the bot")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	var out syncBuffer
	ctx = newLogger(&out, false).WithContext(ctx)
	if err := run(ctx, options{question: "Is this quiet?"}, nil, &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	if bad := notConversation(text); len(bad) > 0 {
		t.Errorf("the default output has lines that are not conversation: %q\n%s", bad, text)
	}
	if !regexp.MustCompile(`(?m)^bot    \(Chat 1, final after \d+ edits\) echo: Is this quiet\?$`).MatchString(text) {
		t.Errorf("no final reply in:\n%s", text)
	}
	if !strings.HasSuffix(text, "demo   stopped the bot, the agent and Dendrite\n") {
		t.Errorf("the demo did not end with stopping everything:\n%s", text)
	}
}

// TestChatThroughAPipe drives -chat as `printf 'hello\nhow are you\n' |
// demo -chat` does: two lines in, two streamed replies out, in order, each
// printed once, then a clean exit at the end of input with every process
// stopped.
func TestChatThroughAPipe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Dendrite, the agent and the bot")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	var logs syncBuffer
	ctx = newLogger(&logs, false).WithContext(ctx)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.WriteString("hello\nhow are you\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()

	var out bytes.Buffer // only run's goroutine writes it
	done := make(chan error, 1)
	go func() { done <- run(ctx, options{chat: true}, r, &out) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		t.Fatalf("-chat did not end at the end of its input")
	}
	text := out.String()
	if err != nil {
		t.Fatalf("-chat returned %v (a failure to stop cleanly included)\n%s", err, text)
	}
	t.Logf("output:\n%s", text)

	var order []string
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "you    (Chat 1) hello", line == "you    (Chat 1) how are you":
			order = append(order, "sent "+strings.TrimPrefix(line, "you    (Chat 1) "))
		case regexp.MustCompile(`^bot    \(Chat 1, streamed in \d+ edits?\) echo: `).MatchString(line):
			order = append(order, "reply "+line[strings.Index(line, "echo: "):])
		case strings.Contains(line, "echo: "):
			t.Errorf("a reply printed other than once and final: %q", line)
		}
	}
	want := []string{"sent hello", "reply echo: hello", "sent how are you", "reply echo: how are you"}
	if strings.Join(order, "|") != strings.Join(want, "|") {
		t.Errorf("conversation = %q, want %q", order, want)
	}
	if bad := notConversation(text); len(bad) > 0 {
		t.Errorf("lines that are not conversation: %q", bad)
	}
	if logs.String() != "" {
		t.Errorf("errors were logged:\n%s", logs.String())
	}
	if !strings.HasSuffix(text, "demo   stopped the bot, the agent and Dendrite\n") {
		t.Errorf("-chat did not end with stopping everything:\n%s", text)
	}

	// Everything the demo started is gone: nothing answers on the
	// homeserver's, the agent's or the bot's address.
	m := regexp.MustCompile(`Dendrite on (\S+), reference agent on (\S+)\n(?s:.*)health on (\S+)\)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no addresses in the output")
	}
	for _, raw := range m[1:] {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := waitClosed(u.Host, 5*time.Second); err != nil {
			t.Errorf("%s: %v", raw, err)
		}
	}
}

// waitClosed waits until nothing accepts connections on addr.
func waitClosed(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return nil
		}
		c.Close()
		if time.Now().After(deadline) {
			return errors.New("still accepts connections after the demo ended")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
