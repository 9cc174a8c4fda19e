package refagent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/test/wait"
)

func TestEchoStreamsWithProgress(t *testing.T) {
	r := newTestRef(t, Config{ChunkDelay: time.Millisecond})
	c := r.dial(1, "42", clientOpts)
	evs := runTurn(t, c, actors.UserMessage{Text: "hello big world"})
	if evs[0].Kind != actors.AgentToolCall || evs[0].Name != "echo" || evs[1].Kind != actors.AgentToolResult {
		t.Fatalf("no tool progress first: %+v", evs)
	}
	if got := text(evs); got != "echo: hello big world" {
		t.Fatalf("text = %q", got)
	}
	if n := count(evs, actors.AgentTextChunk); n != 4 {
		t.Fatalf("%d text chunks, want one per word (4)", n)
	}
	if end := last(t, evs); end.Kind != actors.AgentEnd || end.TokensUsed != 4 {
		t.Fatalf("end = %+v", end)
	}
	want := []Received{{AgentID: "agent-1", ChatID: "42", Type: "USER_MESSAGE", Text: "hello big world", Attachments: []string{}}}
	if got := r.srv.Received(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Received = %+v, want %+v", got, want)
	}
}

func TestEchoDescribesAttachments(t *testing.T) {
	r := newTestRef(t, Config{})
	ws := r.cfg.Agents[0].Workspace
	if err := os.MkdirAll(filepath.Join(ws, "incoming"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "incoming", "a.txt"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := r.dial(0, "1", clientOpts)
	evs := runTurn(t, c, actors.UserMessage{Text: "see", Attachments: []string{"incoming/a.txt", "incoming/none.txt", "../x"}})
	want := "echo: see\n\nattachments: incoming/a.txt (5 bytes), incoming/none.txt (missing), ../x (outside the workspace)"
	if got := text(evs); got != want {
		t.Fatalf("text = %q\nwant %q", got, want)
	}
}

func TestEchoTriggers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		check func(t *testing.T, r *testRef, c actors.AgentConn, evs []actors.AgentEvent)
	}{
		{"error", "/error boom", func(t *testing.T, r *testRef, c actors.AgentConn, evs []actors.AgentEvent) {
			end := last(t, evs)
			if end.Kind != actors.AgentFailed || !errors.Is(end.Err, actors.ErrAgentReported) || end.Text != "boom" {
				t.Fatalf("end = %+v", end)
			}
			// ERROR ends the turn, not the connection.
			if evs := runTurn(t, c, actors.UserMessage{Text: "again"}); last(t, evs).Kind != actors.AgentEnd {
				t.Fatalf("next turn: %+v", evs)
			}
		}},
		{"error default", "/error", func(t *testing.T, r *testRef, c actors.AgentConn, evs []actors.AgentEvent) {
			if end := last(t, evs); end.Text != "simulated failure" {
				t.Fatalf("end = %+v", end)
			}
		}},
		{"slow", "/slow 5", func(t *testing.T, r *testRef, c actors.AgentConn, evs []actors.AgentEvent) {
			if n := count(evs, actors.AgentTextChunk); n != 5 || text(evs) != "chunk 1 chunk 2 chunk 3 chunk 4 chunk 5 " {
				t.Fatalf("%d chunks: %q", n, text(evs))
			}
		}},
		{"file", "/file report.txt", func(t *testing.T, r *testRef, c actors.AgentConn, evs []actors.AgentEvent) {
			if evs[0].Kind != actors.AgentSendFile || evs[0].Path != "output/report.txt" || evs[0].Err != nil {
				t.Fatalf("events = %+v", evs)
			}
			b, err := os.ReadFile(filepath.Join(r.cfg.Agents[0].Workspace, "output", "report.txt"))
			if err != nil || !strings.Contains(string(b), "report.txt") {
				t.Fatalf("file: %q, %v", b, err)
			}
		}},
		{"file name cannot escape", "/file ../../evil", func(t *testing.T, r *testRef, c actors.AgentConn, evs []actors.AgentEvent) {
			if evs[0].Path != "output/evil" {
				t.Fatalf("events = %+v", evs)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRef(t, Config{SlowDelay: time.Millisecond})
			c := r.dial(0, "7", clientOpts)
			tc.check(t, r, c, runTurn(t, c, actors.UserMessage{Text: tc.text}))
		})
	}
}

func TestEchoConfirm(t *testing.T) {
	for _, approved := range []bool{true, false} {
		t.Run(map[bool]string{true: "approved", false: "declined"}[approved], func(t *testing.T) {
			r := newTestRef(t, Config{})
			c := r.dial(0, "3", clientOpts)
			ch, err := c.Turn(context.Background(), actors.UserMessage{Text: "/confirm Delete it?"})
			if err != nil {
				t.Fatalf("Turn: %v", err)
			}
			ev := wait.Recv(t, ch, "the CONFIRM_REQUEST event")
			if ev.Kind != actors.AgentConfirmRequest || ev.Text != "Delete it?" || ev.ID == "" {
				t.Fatalf("first event = %+v", ev)
			}
			if err := c.Confirm(context.Background(), ev.ID, approved); err != nil {
				t.Fatalf("Confirm: %v", err)
			}
			evs := drain(t, ch)
			want := map[bool]string{true: "approved", false: "declined"}[approved]
			if text(evs) != want || last(t, evs).Kind != actors.AgentEnd {
				t.Fatalf("events = %+v", evs)
			}
			got := r.srv.Received()
			if len(got) != 2 || got[1].Type != "USER_CONFIRM" || got[1].ConfirmID != ev.ID || got[1].Approved != approved {
				t.Fatalf("Received = %+v", got)
			}
		})
	}
}

func TestRoutingUnknownPrefix(t *testing.T) {
	r := newTestRef(t, Config{})
	ref := r.ref(0)
	ref.BaseURL = r.url + "/agent_9/"
	if _, err := newDialer().Dial(context.Background(), ref, "1"); !errors.Is(err, actors.ErrAgentUnavailable) {
		t.Fatalf("Dial to an unknown prefix: %v", err)
	}
}

// The client sends the next message as soon as it reads END; the agent must
// take it even if its previous turn has not quite returned.
func TestBackToBackTurns(t *testing.T) {
	r := newTestRef(t, Config{})
	c := r.dial(0, "1", clientOpts)
	for i := range 20 {
		evs := runTurn(t, c, actors.UserMessage{Text: "n"})
		if end := last(t, evs); end.Kind != actors.AgentEnd {
			t.Fatalf("turn %d: %+v", i, end)
		}
	}
}

func TestEchoFlakyFailsOnlyTheFirstTime(t *testing.T) {
	r := newTestRef(t, Config{})
	for i, wantErr := range []bool{true, false} {
		conn := r.dial(0, fmt.Sprintf("flaky-%d", i), clientOpts)
		ev := last(t, runTurn(t, conn, actors.UserMessage{Text: "/flaky please"}))
		if gotErr := ev.Kind == actors.AgentFailed; gotErr != wantErr {
			t.Fatalf("try %d: last event %+v, want failure=%v", i+1, ev, wantErr)
		}
	}
}

// USER_CANCEL stops a running turn of an agent that lists the capability; one
// that does not is told nothing (the client closes the connection instead).
func TestCancel(t *testing.T) {
	for _, noCancel := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoCancel=%v", noCancel), func(t *testing.T) {
			r := newTestRef(t, Config{SlowDelay: 200 * time.Millisecond, NoCancel: noCancel})
			conn := r.dial(0, "cancel", clientOpts)
			ch, err := conn.Turn(context.Background(), actors.UserMessage{Text: "/slow 1000"})
			if err != nil {
				t.Fatal(err)
			}
			if ev := wait.Recv(t, ch, "the first chunk"); ev.Kind != actors.AgentTextChunk {
				t.Fatalf("first event %+v", ev)
			}
			sent, err := conn.Cancel(context.Background())
			if err != nil || sent == noCancel {
				t.Fatalf("Cancel = %v, %v; want sent=%v", sent, err, !noCancel)
			}
			if noCancel {
				return
			}
			evs := drain(t, ch)
			if end := evs[len(evs)-1]; end.Kind != actors.AgentEnd {
				t.Fatalf("the cancelled turn ended with %+v, want END", end)
			}
			if n := count(evs, actors.AgentTextChunk); n > 20 {
				t.Fatalf("%d more chunks after USER_CANCEL: the turn did not stop", n)
			}
			// The connection serves the next turn.
			if ev := last(t, runTurn(t, conn, actors.UserMessage{Text: "after"})); ev.Kind != actors.AgentEnd {
				t.Fatalf("next turn ended with %+v", ev)
			}
		})
	}
}
