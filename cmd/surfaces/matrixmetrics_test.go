package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/surfaces-bot/surfaces/actors"
)

func TestMatrixMetricsCountRequestsAndEvents(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "/send/m.room.message/limited"):
			w.WriteHeader(http.StatusTooManyRequests)
		case strings.HasPrefix(r.URL.Path, "/_matrix/media/"):
			w.WriteHeader(http.StatusBadGateway)
		case strings.Contains(r.URL.Path, "/state/"):
			w.WriteHeader(http.StatusForbidden)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer hs.Close()
	reg := prometheus.NewRegistry()
	m, err := newMatrixMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: m.transport(http.DefaultTransport)}
	do := func(ctx context.Context, method, path string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, hs.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	ctx := context.Background()
	room := "/_matrix/client/v3/rooms/%21r%3Ahs.test"
	do(ctx, http.MethodGet, "/_matrix/client/v3/sync")
	do(ctx, http.MethodPut, room+"/send/m.room.message/1")
	do(ctx, http.MethodPut, room+"/send/m.room.message/2") // an edit is an m.room.message too
	do(ctx, http.MethodPut, room+"/send/m.reaction/3")
	do(ctx, http.MethodPut, room+"/send/m.room.message/limited")
	do(ctx, http.MethodPut, room+"/state/org.surfaces.chat/")
	do(ctx, http.MethodGet, "/_matrix/media/v3/download/hs.test/abc")
	do(ctx, http.MethodGet, "/_matrix/client/v3/joined_rooms")
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	do(canceled, http.MethodGet, "/_matrix/client/v3/sync")
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/_matrix/client/v3/sync", nil)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("a request to port 1 went through")
	}

	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"sync", "ok"}, 1},
		{[]string{"send", "ok"}, 3},
		{[]string{"send", "rate_limited"}, 1},
		{[]string{"state", "client_error"}, 1},
		{[]string{"media", "server_error"}, 1},
		{[]string{"other", "ok"}, 1},
		{[]string{"sync", "canceled"}, 1},
		{[]string{"sync", "network_error"}, 1},
	} {
		if got := counterValue(t, m.requests, c.labels...); got != c.want {
			t.Errorf("requests %v: %v, want %v", c.labels, got, c.want)
		}
	}
	// The 429 was not accepted, so it is not a sent message.
	for typ, want := range map[string]float64{"message": 2, "reaction": 1} {
		if got := counterValue(t, m.sent, typ); got != want {
			t.Errorf("sent %s: %v, want %v", typ, got, want)
		}
	}

	for _, msg := range []any{&actors.MessageReceived{}, &actors.MessageReceived{}, &actors.InviteReceived{}, &actors.ReactionReceived{}, &actors.MessagesSkipped{}} {
		m.receivedEvent(msg)
	}
	for typ, want := range map[string]float64{"message": 2, "invite": 1, "reaction": 1, "other": 1} {
		if got := counterValue(t, m.received, typ); got != want {
			t.Errorf("received %s: %v, want %v", typ, got, want)
		}
	}
}

func TestClassifyPath(t *testing.T) {
	for path, want := range map[string][2]string{
		"/_matrix/client/v3/sync": {"sync", ""},
		"/_matrix/client/v3/rooms/%21a%2Fb%3Ahs/send/m.room.message/t1": {"send", "message"},
		"/_matrix/client/v3/rooms/%21a%3Ahs/send/m.reaction/t2":         {"send", "reaction"},
		"/_matrix/client/v3/rooms/%21a%3Ahs/send/m.room.redaction/t3":   {"send", "other"},
		"/_matrix/client/v3/rooms/%21a%3Ahs/state/m.room.name/":         {"state", ""},
		"/_matrix/client/v3/rooms/%21a%3Ahs/join":                       {"other", ""},
		"/_matrix/client/v1/media/download/hs/x":                        {"media", ""},
		"/_matrix/media/v3/upload":                                      {"media", ""},
		"/_matrix/client/v3/createRoom":                                 {"other", ""},
		"/metrics":                                                      {"other", ""},
	} {
		endpoint, typ := classifyPath(path)
		if endpoint != want[0] || typ != want[1] {
			t.Errorf("classifyPath(%q) = %q, %q; want %q, %q", path, endpoint, typ, want[0], want[1])
		}
	}
}

// counterValue is the value of vec's counter with the label values.
func counterValue(t *testing.T, vec *prometheus.CounterVec, values ...string) float64 {
	t.Helper()
	var out dto.Metric
	if err := vec.WithLabelValues(values...).Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetCounter().GetValue()
}
