package main

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surfaces-bot/surfaces/actors"
)

// matrixMetrics counts the bot's traffic with the homeserver: every HTTP
// attempt of the Matrix client (through transport), the events it sent,
// and the events the sync loop handed to the tree (through received).
// Labels come from fixed lists: never a room or a user id.
type matrixMetrics struct {
	requests *prometheus.CounterVec
	sent     *prometheus.CounterVec
	received *prometheus.CounterVec
}

func newMatrixMetrics(reg prometheus.Registerer) (*matrixMetrics, error) {
	m := &matrixMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "surfaces_matrix_requests_total",
			Help: "Requests to the homeserver, one per attempt, by endpoint (sync, send, state, media, other) and " +
				"outcome (ok, rate_limited: a 429, after which the client waits; client_error, server_error, network_error, canceled).",
		}, []string{"endpoint", "outcome"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "surfaces_matrix_events_sent_total",
			Help: "Room events the homeserver accepted from the bot, by type (message: m.room.message, edits included; reaction; other).",
		}, []string{"type"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "surfaces_matrix_events_received_total",
			Help: "Events the sync loop passed to the actor tree, by type (message, invite, reaction, other).",
		}, []string{"type"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.sent, m.received} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// transport counts each request through next.
func (m *matrixMetrics) transport(next http.RoundTripper) http.RoundTripper {
	return countingTransport{m: m, next: next}
}

// receivedEvent counts one message of the sync loop to the tree.
func (m *matrixMetrics) receivedEvent(msg any) {
	kind := "other"
	switch msg.(type) {
	case *actors.MessageReceived:
		kind = "message"
	case *actors.InviteReceived:
		kind = "invite"
	case *actors.ReactionReceived:
		kind = "reaction"
	}
	m.received.WithLabelValues(kind).Inc()
}

type countingTransport struct {
	m    *matrixMetrics
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	endpoint, sentType := classifyPath(req.URL.EscapedPath())
	var outcome string
	switch {
	case err != nil && req.Context().Err() != nil:
		outcome = "canceled"
	case err != nil:
		outcome = "network_error"
	case resp.StatusCode == http.StatusTooManyRequests:
		outcome = "rate_limited"
	case resp.StatusCode >= 500:
		outcome = "server_error"
	case resp.StatusCode >= 400:
		outcome = "client_error"
	default:
		outcome = "ok"
		if sentType != "" && req.Method == http.MethodPut {
			t.m.sent.WithLabelValues(sentType).Inc()
		}
	}
	t.m.requests.WithLabelValues(endpoint, outcome).Inc()
	return resp, err
}

// classifyPath names the endpoint of a Matrix API path (escaped, so an id
// cannot add a segment) and, for /rooms/{roomId}/send/{eventType}/{txnId},
// the type of the event sent.
func classifyPath(path string) (endpoint, sentType string) {
	// /_matrix/client/{version}/... or /_matrix/media/{version}/...
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) < 4 || parts[0] != "_matrix" {
		return "other", ""
	}
	api, rest := parts[1], parts[3:]
	switch {
	case api == "media" || rest[0] == "media":
		return "media", ""
	case api != "client":
		return "other", ""
	case rest[0] == "sync":
		return "sync", ""
	case rest[0] != "rooms" || len(rest) < 3:
		return "other", ""
	case rest[2] == "state":
		return "state", ""
	case rest[2] != "send":
		return "other", ""
	}
	switch {
	case len(rest) < 4:
		return "send", "other"
	case rest[3] == "m.room.message":
		return "send", "message"
	case rest[3] == "m.reaction":
		return "send", "reaction"
	}
	return "send", "other"
}
