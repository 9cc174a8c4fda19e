package e2e

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"

	"github.com/surfaces-bot/surfaces/agents/refagent"
	"github.com/surfaces-bot/surfaces/test/harness"
)

// !stop during a long reply (150 chunks, 60 s) ends it marked stopped; the
// agent gets USER_CANCEL when it listed the capability, and in both cases
// the next message gets a normal reply.
func TestStopEndsALongReply(t *testing.T) {
	inEachMode(t, stopEndsALongReply)
}

func stopEndsALongReply(t *testing.T, opts harness.StackOptions) {
	for _, noCancel := range []bool{false, true} {
		name := "agent with the cancel capability"
		if noCancel {
			name = "agent without it"
		}
		t.Run(name, func(t *testing.T) {
			opts.Agent = refagent.Config{NoCancel: noCancel}
			w := newWorldWith(t, opts, "alice")
			w.onboard()
			ctx, cancel := w.wait()
			defer cancel()
			if _, err := w.alice.SendText(ctx, w.chat, "/slow 150"); err != nil {
				t.Fatal(err)
			}
			if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
				return m.Sender == w.stack.BotID && strings.HasPrefix(m.FinalBody, "chunk 1 chunk 2 chunk 3")
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := w.alice.SendText(ctx, w.chat, "!stop"); err != nil {
				t.Fatal(err)
			}
			// The reply itself (sent before the !stop) ends marked stopped.
			stopped, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
				return m.Sender == w.stack.BotID && m.MsgType == event.MsgText && strings.HasSuffix(m.FinalBody, "_(stopped)_")
			})
			if err != nil {
				t.Fatalf("the reply was not marked stopped: %v", err)
			}
			if n := strings.Count(stopped.FinalBody, "chunk "); n >= 150 {
				t.Fatalf("the stopped reply has all %d chunks: nothing was stopped", n)
			}
			w.ask("after the stop", func(m harness.Message) bool { return m.FinalBody == "echo: after the stop" })
			cancels := 0
			for _, r := range w.stack.Agent.Received() {
				if r.Type == "USER_CANCEL" {
					cancels++
				}
			}
			if want := map[bool]int{false: 1, true: 0}[noCancel]; cancels != want {
				t.Fatalf("the agent received %d USER_CANCEL, want %d", cancels, want)
			}
		})
	}
}
