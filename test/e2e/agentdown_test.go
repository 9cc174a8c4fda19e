package e2e

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"maunium.net/go/mautrix/event"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// The agent goes down while the bot runs: each message gets a plain notice;
// once its circuit is open the bot does not even dial it (the notice comes
// at once); when the agent is back the next message works, without
// restarting the bot (PRODUCT R3.6–R3.7).
func TestAgentDownAndBack(t *testing.T) {
	w := newWorld(t)
	w.onboard()
	w.ask("before", func(m harness.Message) bool { return m.FinalBody == "echo: before" })
	ctx, cancel := w.wait()
	defer cancel()

	w.stack.StopAgent()
	unreachable := func(m harness.Message) bool {
		return m.MsgType == event.MsgNotice && strings.Contains(m.FinalBody, "can't be reached")
	}
	for _, text := range []string{"one", "two", "three", "four"} {
		w.ask(text, unreachable)
	}
	if _, err := w.stack.Bot.WaitForLine(ctx, regexp.MustCompile(`"message":"agent circuit open, not dialling"`)); err != nil {
		t.Fatalf("the fourth message dialled the dead agent: %v", err)
	}

	if v := scrapeCircuit(t, w); v != 1 {
		t.Fatalf("surfaces_agent_circuit_open{agent=\"agent-0\"} = %v while the agent is down, want 1", v)
	}
	if err := w.stack.StartAgent(w.ctx); err != nil {
		t.Fatal(err)
	}
	// The circuit lets a trial through after its cool-down (5 s ±20%);
	// until then a message still gets the notice, at once.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		text := "back? " + string(rune('a'+i))
		reply := w.ask(text, func(m harness.Message) bool { return m.FinalBody == "echo: "+text || unreachable(m) })
		if reply.FinalBody == "echo: "+text {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the agent is back but messages still do not reach it")
		}
		time.Sleep(time.Second) // the cool-down runs on the bot's clock
	}
}

// scrapeCircuit reads surfaces_agent_circuit_open for agent-0 from /metrics,
// parsed with the Prometheus text parser.
func scrapeCircuit(t *testing.T, w *world) float64 {
	t.Helper()
	resp, err := http.Get("http://" + w.stack.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range families["surfaces_agent_circuit_open"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "agent" && l.GetValue() == "agent-0" {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatal("no surfaces_agent_circuit_open for agent-0")
	return 0
}

// An agent that accepts the WebSocket and never sends STATUS costs the user
// one notice after agents.status_timeout, not a hang; the next message,
// once the agent is healthy again, works.
func TestAgentWithoutStatusCostsOneNotice(t *testing.T) {
	w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"}, BotEnv: []string{"SURFACES_AGENTS_STATUS_TIMEOUT=2s"}}, "alice")
	w.onboard()
	w.stack.StopAgent()
	u, err := url.Parse(w.stack.AgentURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	silent := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(rw, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ws.Read(context.Background()) //nolint:errcheck // accepts, then says nothing until the bot hangs up
	})}
	go silent.Serve(ln) //nolint:errcheck // ends with Close
	w.ask("anyone?", func(m harness.Message) bool {
		return m.MsgType == event.MsgNotice && strings.Contains(m.FinalBody, "can't be reached")
	})
	silent.Close()
	if err := w.stack.StartAgent(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.ask("and now?", func(m harness.Message) bool { return m.FinalBody == "echo: and now?" })
}
