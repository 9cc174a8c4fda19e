package agents

import (
	"errors"
	"testing"
)

func TestNormalizeBaseURL(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"http with prefix", "http://agents.example.org:7000/agent_0/", "ws://agents.example.org:7000/agent_0/"},
		{"prefix without slash", "http://host:7000/agent_17", "ws://host:7000/agent_17/"},
		{"https to wss", "https://host/agent_1", "wss://host/agent_1/"},
		{"ws kept", "ws://host:8000/", "ws://host:8000/"},
		{"wss kept", "wss://host/a/b", "wss://host/a/b/"},
		{"no path", "http://host:7000", "ws://host:7000/"},
		{"many trailing slashes", "http://host/agent_0///", "ws://host/agent_0/"},
		{"full endpoint cut back", "ws://host:7000/agent_3/v1/agent_ws/42/", "ws://host:7000/agent_3/"},
		{"full endpoint without slash", "http://host/agent_3/v1/agent_ws/42", "ws://host/agent_3/"},
		{"v1 agent_ws without chat", "http://host/agent_3/v1/agent_ws/", "ws://host/agent_3/"},
		{"legacy agent_ws", "ws://127.0.0.1:8000/agent_ws/", "ws://127.0.0.1:8000/"},
		{"legacy agent_ws under prefix", "ws://127.0.0.1:8000/x/agent_ws", "ws://127.0.0.1:8000/x/"},
		{"upper-case scheme", "HTTP://host/a", "ws://host/a/"},
		{"spaces trimmed", "  http://host/a  ", "ws://host/a/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeBaseURL(tc.in)
			if err != nil {
				t.Fatalf("NormalizeBaseURL(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("NormalizeBaseURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNormalizeBaseURLErrors(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"ftp scheme", "ftp://host/a"},
		{"no scheme", "host:7000/agent_0"},
		{"no host", "http:///agent_0"},
		{"query", "http://host/a?x=1"},
		{"fragment", "http://host/a#x"},
		{"garbage", "http://[::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeBaseURL(tc.in)
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("NormalizeBaseURL(%q) = %q, %v; want ErrBadURL", tc.in, got, err)
			}
		})
	}
}

func TestEndpointURL(t *testing.T) {
	for _, tc := range []struct{ base, chat, want string }{
		{"ws://host:7000/agent_0/", "1", "ws://host:7000/agent_0/v1/agent_ws/1/"},
		{"ws://host/", "42", "ws://host/v1/agent_ws/42/"},
		{"ws://host/", "a/b", "ws://host/v1/agent_ws/a%2Fb/"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := EndpointURL(tc.base, tc.chat); got != tc.want {
				t.Fatalf("EndpointURL(%q, %q) = %q, want %q", tc.base, tc.chat, got, tc.want)
			}
		})
	}
}
