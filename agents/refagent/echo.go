package refagent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/surfaces-bot/surfaces/agents"
)

// echoTurn answers with "echo: <text>" streamed word by word, after a tool
// call so that progress lines can be tested. Messages starting with a
// trigger do something else:
//
//	/error [message]  sends ERROR
//	/slow [n]         streams n chunks (default Config.SlowChunks) SlowDelay apart
//	/file <name>      writes output/<name> into the workspace and sends SEND_FILE
//	/sendfile <path>  sends SEND_FILE with path exactly as given (for tests of
//	                  path forms and hostile paths), between two text chunks
//	/confirm [text]   asks for confirmation and reports the answer
//	/flaky [text]     sends ERROR the first time this text comes, echoes it after (for !retry)
//	/big <n>          streams about n KiB of numbered lines (BigText), for long replies
func (s *session) echoTurn(ctx context.Context, m agents.UserMessageFrame) error {
	cmd, arg, _ := strings.Cut(strings.TrimSpace(m.Text), " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case "/error":
		if arg == "" {
			arg = "simulated failure"
		}
		return s.sendFrame(ctx, agents.ErrorFrame{Type: agents.TypeError, Message: arg, Code: "simulated"})
	case "/slow":
		return s.slowTurn(ctx, arg)
	case "/file":
		return s.fileTurn(ctx, arg)
	case "/sendfile":
		for _, f := range []any{
			agents.TextChunkFrame{Type: agents.TypeTextChunk, Text: "before "},
			agents.SendFileFrame{Type: agents.TypeSendFile, Path: arg},
			agents.TextChunkFrame{Type: agents.TypeTextChunk, Text: "after"},
			agents.EndFrame{Type: agents.TypeEnd, TokensUsed: 1},
		} {
			if err := s.sendFrame(ctx, f); err != nil {
				return err
			}
		}
		return nil
	case "/confirm":
		return s.confirmTurn(ctx, arg)
	case "/big":
		kib, _ := strconv.Atoi(arg)
		text := BigText(min(max(kib, 1), 1024))
		var chunks []string
		for len(text) > 0 {
			n := min(4096, len(text))
			chunks, text = append(chunks, text[:n]), text[n:]
		}
		if err := s.stream(ctx, chunks, s.srv.cfg.ChunkDelay); err != nil {
			return err
		}
		return s.sendFrame(ctx, agents.EndFrame{Type: agents.TypeEnd, TokensUsed: agents.FlexInt64(len(chunks))})
	case "/flaky":
		if s.srv.firstTry(m.Text) {
			return s.sendFrame(ctx, agents.ErrorFrame{Type: agents.TypeError, Message: "flaky on the first try", Code: "simulated"})
		}
	}
	id := "call-" + strconv.Itoa(s.srv.nextID())
	args, _ := json.Marshal(map[string]any{"text": m.Text, "attachments": len(m.Attachments)})
	if err := s.sendFrame(ctx, agents.ToolCallChunkFrame{Type: agents.TypeToolCallChunk, Name: "echo", Args: string(args), ID: agents.FlexString(id)}); err != nil {
		return err
	}
	if err := s.sendFrame(ctx, agents.ToolResultFrame{Type: agents.TypeToolResult, Name: "echo", ID: agents.FlexString(id), Result: "ok"}); err != nil {
		return err
	}
	reply := "echo: " + m.Text + s.describeAttachments(m.Attachments)
	chunks := strings.SplitAfter(reply, " ")
	if err := s.stream(ctx, chunks, s.srv.cfg.ChunkDelay); err != nil {
		return err
	}
	return s.sendFrame(ctx, agents.EndFrame{Type: agents.TypeEnd, TokensUsed: agents.FlexInt64(len(chunks))})
}

// stream sends chunks as TEXT_CHUNKs, delay apart.
func (s *session) stream(ctx context.Context, chunks []string, delay time.Duration) error {
	for i, c := range chunks {
		if i > 0 && !sleep(ctx, delay) {
			return ctx.Err()
		}
		if err := s.sendFrame(ctx, agents.TextChunkFrame{Type: agents.TypeTextChunk, Text: c}); err != nil {
			return err
		}
	}
	return nil
}

// describeAttachments lists the attachments with their size as the agent
// sees them in its workspace, so an end-to-end test can check that the bot
// wrote each file where it said.
func (s *session) describeAttachments(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	parts := make([]string, 0, len(paths))
	for _, p := range paths {
		desc := "missing"
		if full, ok := s.inWorkspace(p); !ok {
			desc = "outside the workspace"
		} else if fi, err := os.Stat(full); err == nil {
			desc = strconv.FormatInt(fi.Size(), 10) + " bytes"
		}
		parts = append(parts, p+" ("+desc+")")
	}
	return "\n\nattachments: " + strings.Join(parts, ", ")
}

// inWorkspace resolves a workspace-relative path, refusing escapes.
func (s *session) inWorkspace(rel string) (string, bool) {
	clean, err := agents.NormalizeSendFilePath(rel, s.agent.Workspace)
	if err != nil {
		return "", false
	}
	return filepath.Join(s.agent.Workspace, filepath.FromSlash(clean)), true
}

func (s *session) slowTurn(ctx context.Context, arg string) error {
	n := s.srv.cfg.SlowChunks
	if v, err := strconv.Atoi(arg); err == nil && v > 0 && v <= 10000 {
		n = v
	}
	chunks := make([]string, n)
	for i := range chunks {
		chunks[i] = fmt.Sprintf("chunk %d ", i+1)
	}
	if err := s.stream(ctx, chunks, s.srv.cfg.SlowDelay); err != nil {
		return err
	}
	return s.sendFrame(ctx, agents.EndFrame{Type: agents.TypeEnd, TokensUsed: agents.FlexInt64(n)})
}

func (s *session) fileTurn(ctx context.Context, name string) error {
	name = filepath.Base(strings.TrimSpace(name))
	if name == "" || name == "." || name == ".." || name == string(filepath.Separator) {
		return s.sendFrame(ctx, agents.ErrorFrame{Type: agents.TypeError, Message: "usage: /file <name>", Code: "usage"})
	}
	dir := filepath.Join(s.agent.Workspace, "output")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return s.sendFrame(ctx, agents.ErrorFrame{Type: agents.TypeError, Message: "cannot create output directory", Code: "io"})
	}
	body := fmt.Sprintf("reference agent %s wrote %s for chat %s\n", s.agent.ID, name, s.chatID)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		return s.sendFrame(ctx, agents.ErrorFrame{Type: agents.TypeError, Message: "cannot write file", Code: "io"})
	}
	rel := "output/" + name
	if err := s.sendFrame(ctx, agents.SendFileFrame{Type: agents.TypeSendFile, Path: rel}); err != nil {
		return err
	}
	if err := s.sendFrame(ctx, agents.TextChunkFrame{Type: agents.TypeTextChunk, Text: "sent " + rel}); err != nil {
		return err
	}
	return s.sendFrame(ctx, agents.EndFrame{Type: agents.TypeEnd, TokensUsed: 1})
}

func (s *session) confirmTurn(ctx context.Context, question string) error {
	if question == "" {
		question = "Proceed?"
	}
	id := "c-" + strconv.Itoa(s.srv.nextID())
	if err := s.sendFrame(ctx, agents.ConfirmRequestFrame{Type: agents.TypeConfirmRequest, ID: agents.FlexString(id), Text: question}); err != nil {
		return err
	}
	approved, err := s.waitConfirm(ctx, id)
	if err != nil {
		return err
	}
	answer := "declined"
	if approved {
		answer = "approved"
	}
	if err := s.sendFrame(ctx, agents.TextChunkFrame{Type: agents.TypeTextChunk, Text: answer}); err != nil {
		return err
	}
	return s.sendFrame(ctx, agents.EndFrame{Type: agents.TypeEnd, TokensUsed: 1})
}

// BigText is about kib KiB of numbered lines, the reply of "/big": tests
// compare what the user sees with it.
func BigText(kib int) string {
	var b strings.Builder
	for i := 1; b.Len() < kib*1024; i++ {
		if i > 1 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "line %05d: the quick brown fox jumps over the lazy dog, again and again", i)
	}
	return b.String()
}
