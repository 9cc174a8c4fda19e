package metrics_test

import (
	"errors"
	"testing"
	"testing/synctest"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/metrics"
)

func TestMetricsFollowTheTree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kit := actortest.NewKit(t)
		reg := prometheus.NewRegistry()
		m, err := metrics.New(reg, kit.System)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		root := kit.SpawnTree()
		kit.AddRoom("@alice:example.test", "!r", "101")
		send := func(text string) {
			kit.System.Root.Send(root, &actors.MessageReceived{RoomID: "!r", EventID: "$" + text, Sender: "@alice:example.test", MsgType: "m.text", Body: text})
		}
		send("one")
		conn := kit.NextConn()
		kit.NextTurn(conn).Emit(actortest.Text("a"), actortest.End(10))
		send("two")
		kit.NextTurn(conn).Emit(actortest.Text("b"), actortest.End(30))
		send("three")
		kit.NextTurn(conn).Emit(actortest.Failed(errors.New("x"), ""))
		synctest.Wait()

		if got := value(t, reg, "surfaces_agent_tokens_total", map[string]string{"agent": actortest.AgentID}); got != 40 {
			t.Fatalf("tokens %v, want 40", got)
		}
		if got := value(t, reg, "surfaces_turns_total", map[string]string{"agent": actortest.AgentID, "outcome": "ok"}); got != 2 {
			t.Fatalf("ok turns %v, want 2", got)
		}
		if got := value(t, reg, "surfaces_turns_total", map[string]string{"agent": actortest.AgentID, "outcome": "failed"}); got != 1 {
			t.Fatalf("failed turns %v, want 1", got)
		}
	})
}

// value is the current value of the counter name with labels in reg.
func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, metric := range f.GetMetric() {
			for _, lp := range metric.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue metrics
				}
			}
			return metric.GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}
