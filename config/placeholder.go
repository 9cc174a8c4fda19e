package config

import (
	"net/url"
	"strings"
)

// Placeholder rules. The example config ships values that look real enough
// to show the format but that validation refuses, so that a copied example
// cannot start a bot pointed at nobody's server. The rules are few and
// literal, to keep false positives on real values unlikely:
//
//  1. Any value (free text included) containing CHANGE_ME or REPLACE_ME,
//     in any case and with "_", "-", " " or nothing between the words.
//  2. Any identifier value (not free text) containing "<...>", as in
//     "<your-homeserver>".
//  3. Hosts of the reserved example domains (RFC 2606: example.org,
//     example.com, example.net and their subdomains) in matrix.homeserver,
//     matrix.user_id, matrix.allowed_servers and agents.base_url.
//  4. An access token that is only a prefix and filler: "syt_...",
//     "syt_xxxx", "…", "***".

// placeholderDetail returns why value of field f is a placeholder, or "".
func placeholderDetail(f *field, value string) string {
	if value == "" {
		return ""
	}
	squashed := strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(value))
	if strings.Contains(squashed, "changeme") || strings.Contains(squashed, "replaceme") {
		return "still holds the example's placeholder; replace it"
	}
	if !f.text {
		if i := strings.IndexByte(value, '<'); i >= 0 && strings.IndexByte(value[i:], '>') > 1 {
			return "still holds a <...> placeholder; replace it"
		}
	}
	switch f.key {
	case "matrix.homeserver", "agents.base_url":
		if u, err := url.Parse(value); err == nil && isExampleHost(u.Hostname()) {
			return "points at the reserved example domain " + u.Hostname() + "; use your real server"
		}
	case "matrix.user_id":
		if _, server, ok := strings.Cut(value, ":"); ok && isExampleHost(hostOf(server)) {
			return "is on the reserved example domain " + hostOf(server) + "; use the bot's real user id"
		}
	case "matrix.access_token":
		if isDummyToken(value) {
			return "is the example's dummy token; use the bot's real access token"
		}
	}
	return ""
}

// isExampleHost reports whether host is an RFC 2606 example domain.
func isExampleHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, d := range []string{"example.org", "example.com", "example.net"} {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// hostOf strips a port from a Matrix server name ("host:8448", "[::1]:8448").
func hostOf(server string) string {
	if u, err := url.Parse("//" + server); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return server
}

// isDummyToken reports a token that is an optional Synapse-style prefix
// followed only by filler characters.
func isDummyToken(token string) bool {
	rest := token
	for _, p := range []string{"syt_", "mct_", "syd_"} {
		rest = strings.TrimPrefix(rest, p)
	}
	return strings.Trim(rest, ".…xX*") == ""
}
