package agents

import (
	"fmt"
	"net/url"
	"strings"
)

// NormalizeBaseURL turns a registry base_url into the WebSocket base that
// EndpointURL extends (docs/agent-protocol.md, "Endpoint"):
//
//   - http:// becomes ws://, https:// becomes wss://, ws:// and wss:// stay;
//   - the path prefix is kept (the platform's proxy routes on it);
//   - a URL that already ends in /v1/agent_ws/<anything>/ or /agent_ws/ is
//     cut back to its base, because operators paste full endpoint URLs;
//   - the result ends in exactly one slash.
//
// Errors wrap ErrBadURL.
func NormalizeBaseURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fmt.Errorf("failed to normalise base URL: %w: empty", ErrBadURL)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("failed to normalise base URL %q: %w: %w", raw, ErrBadURL, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("failed to normalise base URL %q: %w: scheme must be http, https, ws or wss", raw, ErrBadURL)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("failed to normalise base URL %q: %w: no host", raw, ErrBadURL)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		// A query or fragment would end up in the middle of the endpoint URL.
		return "", fmt.Errorf("failed to normalise base URL %q: %w: query or fragment not allowed", raw, ErrBadURL)
	}
	u.User = nil
	u.Path = "/" + cutEndpoint(strings.Trim(u.Path, "/"))
	if u.Path != "/" {
		u.Path += "/"
	}
	u.RawPath = ""
	return u.String(), nil
}

// cutEndpoint removes a trailing "v1/agent_ws/<chat>", "v1/agent_ws" or
// "agent_ws" from a path given without its outer slashes.
func cutEndpoint(p string) string {
	segs := strings.Split(p, "/")
	if p == "" {
		return ""
	}
	n := len(segs)
	switch {
	case n >= 3 && segs[n-3] == "v1" && segs[n-2] == "agent_ws":
		segs = segs[:n-3]
	case n >= 2 && segs[n-2] == "v1" && segs[n-1] == "agent_ws":
		segs = segs[:n-2]
	case segs[n-1] == "agent_ws":
		segs = segs[:n-1]
	}
	// Collapse empty segments left by doubled slashes ("agent_0//").
	out := segs[:0]
	for _, s := range segs {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, "/")
}

// EndpointURL is the WebSocket URL of one conversation:
// {base}v1/agent_ws/{chat_id}/. base must come from NormalizeBaseURL; the
// chat id is path-escaped so that a malformed id cannot change the route.
func EndpointURL(base, chatID string) string {
	return base + "v1/agent_ws/" + url.PathEscape(chatID) + "/"
}
