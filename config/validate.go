package config

import (
	"fmt"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Validate checks the whole configuration and returns one *ValidationError
// listing every problem, or nil. Load calls it; call it again after changing
// a Config by hand.
func (c *Config) Validate() error {
	var ps problems
	c.validate(&ps)
	return ps.err()
}

// validate adds c's problems to ps. Placeholders are checked first: a
// placeholder is also often malformed, and "replace the example value" is
// the useful message.
func (c *Config) validate(ps *problems) {
	c.checkPlaceholders(ps)
	v := validator{c: c, ps: ps}

	v.required("matrix.homeserver", c.Matrix.Homeserver)
	v.check("matrix.homeserver", c.Matrix.Homeserver != "", func() string {
		return checkURL(c.Matrix.Homeserver, "http", "https")
	})
	v.required("matrix.user_id", c.Matrix.UserID)
	v.check("matrix.user_id", c.Matrix.UserID != "", func() string { return checkUserID(c.Matrix.UserID) })
	v.oneOf("matrix.mode", c.Matrix.Mode, ModeClient, ModeAppservice)
	if c.Matrix.Mode == ModeAppservice {
		c.validateAppservice(v)
	} else if c.Matrix.AccessToken == "" && c.Matrix.Password == "" {
		v.add("matrix.access_token", ErrMissing, "set matrix.access_token or matrix.password (%s)",
			envHint("matrix.access_token", "matrix.password"))
	}
	for i, s := range c.Matrix.AllowedServers {
		if strings.ContainsAny(s, "@/ \t") || s == ":" {
			v.add("matrix.allowed_servers", ErrInvalidValue, "item %d %q is not a server name such as \"matrix.org\"", i+1, s)
		}
	}

	v.required("agents.registry_path", c.Agents.RegistryPath)
	v.oneOf("agents.unassigned", c.Agents.Unassigned, UnassignedDefault, UnassignedDeny)
	v.check("agents.base_url", c.Agents.BaseURL != "", func() string {
		return checkURL(c.Agents.BaseURL, "http", "https", "ws", "wss")
	})
	v.positive("agents.connect_timeout", c.Agents.ConnectTimeout)
	v.positive("agents.status_timeout", c.Agents.StatusTimeout)
	v.positive("agents.turn_idle_timeout", c.Agents.TurnIdleTimeout)
	v.positive("agents.idle_close", c.Agents.IdleClose)
	v.positive("agents.cancel_grace", c.Agents.CancelGrace)
	v.positive("agents.confirm_timeout", c.Agents.ConfirmTimeout)

	v.required("workspace.dir", c.Workspace.Dir)
	v.check("workspace.max_file_size", c.Workspace.MaxFileSize <= 0, func() string { return "must be more than 0 bytes" })
	v.required("state.path", c.State.Path)
	v.oneOf("persistence.backend", c.Persistence.Backend, BackendBadger, BackendPostgres)
	if c.Persistence.Backend == BackendPostgres {
		v.required("persistence.postgres_dsn", string(c.Persistence.PostgresDSN))
	}
	if c.Cluster.Enabled {
		v.check("cluster.enabled", c.Persistence.Backend != BackendPostgres, func() string {
			return "needs persistence.backend: postgres (the members share its database)"
		})
		v.check("cluster.member_id", c.Cluster.MemberID != "", func() string { return checkMemberID(c.Cluster.MemberID) })
	}
	if c.Cluster.Grains {
		v.check("cluster.grains", !c.Cluster.Enabled, func() string { return "needs cluster.enabled: true" })
		if c.Matrix.Encryption != EncryptionOff {
			// Each member encrypts what its rooms send with a device of
			// its own, which it makes by logging in with the password.
			v.check("cluster.grains", c.Matrix.Mode == ModeAppservice, func() string {
				return "with matrix.encryption needs matrix.mode: client for now (in appservice mode the members' devices get no to-device events); or set matrix.encryption: off"
			})
			v.check("matrix.access_token", c.Matrix.AccessToken != "", func() string {
				return "cannot be used with cluster.grains and matrix.encryption: each member logs in with matrix.password as a device of its own; unset it"
			})
			v.check("matrix.device_id", c.Matrix.DeviceID != "", func() string {
				return "cannot be used with cluster.grains and matrix.encryption: each member logs in as a device of its own; unset it"
			})
			// The id names the member's device: a host name that changes
			// at every start would make a new device each time.
			v.check("cluster.member_id", c.Cluster.MemberID == "", func() string {
				return "is required with cluster.grains and matrix.encryption: it names this member's own device, which must stay the same across restarts (the host name may not)"
			})
		}
		v.required("cluster.listen", c.Cluster.Listen)
		v.check("cluster.listen", c.Cluster.Listen != "", func() string { return checkListen(c.Cluster.Listen) })
	}
	v.required("http.listen", c.HTTP.Listen)
	v.positive("http.unready_after", c.HTTP.UnreadyAfter)
	v.check("http.listen", c.HTTP.Listen != "", func() string { return checkListen(c.HTTP.Listen) })
	v.oneOf("locale", c.Locale, LocaleEN, LocaleRU)
	v.oneOf("log.level", c.Log.Level, "trace", "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, LogFormatJSON, LogFormatConsole, LogFormatAuto)

	v.positive("streaming.edit_interval", c.Streaming.EditInterval)
	v.positive("streaming.typing_refresh", c.Streaming.TypingRefresh)
	v.check("streaming.typing_after", c.Streaming.TypingAfter < 0, func() string { return "must be 0 (at once) or a duration" })
	v.check("streaming.max_message_bytes", true, func() string {
		// Matrix caps a whole event at 64 KiB; the HTML rendering of the
		// body travels in the same event, so the body gets under half.
		if n := c.Streaming.MaxMessageBytes; n < 1*KiB || n > 30000 {
			return fmt.Sprintf("must be between 1KiB and 30000 bytes so that body and formatted_body fit one Matrix event, got %d", n)
		}
		return ""
	})
	v.positive("streaming.notify_after", c.Streaming.NotifyAfter)
	v.check("streaming.max_edits", c.Streaming.MaxEdits < 1, func() string { return "must be at least 1" })
	v.check("queue.size", c.Queue.Size < 1, func() string { return "must be at least 1" })
	v.check("actors.passivate_after", c.Actors.PassivateAfter < 0, func() string { return "must be 0 (never) or a positive duration" })
	v.check("matrix.send_rate", c.Matrix.SendRate < 0, func() string { return "must be 0 (no ceiling) or more posts per second" })
	v.check("matrix.send_burst", c.Matrix.SendRate > 0 && c.Matrix.SendBurst < 1, func() string { return "must be at least 1" })
	v.oneOf("matrix.encryption", c.Matrix.Encryption, EncryptionOff, EncryptionAllowed, EncryptionDefault)
	if c.Matrix.Encryption != EncryptionOff {
		v.required("matrix.pickle_key", string(c.Matrix.PickleKey))
		v.check("matrix.pickle_key", c.Matrix.PickleKey != "", func() string {
			if len(c.Matrix.PickleKey) < 16 {
				return "must be at least 16 characters: it encrypts the bot's keys at rest"
			}
			return ""
		})
		v.positive("matrix.key_wait", c.Matrix.KeyWait)
		v.check("matrix.recovery_key", c.Matrix.RecoveryKey != "", func() string {
			// A recovery key is 48 base58 characters in groups of four.
			n := len(strings.ReplaceAll(string(c.Matrix.RecoveryKey), " ", ""))
			if n != 48 {
				return fmt.Sprintf("is not a recovery key (48 characters in groups of four, as the bot printed it), got %d characters", n)
			}
			return ""
		})
	}
	v.check("rate_limit.rate", c.RateLimit.Rate <= 0, func() string { return "must be more than 0 messages per second" })
	v.check("rate_limit.burst", c.RateLimit.Burst < 1, func() string { return "must be at least 1" })
	v.check("quota.max_chats", c.Quota.MaxChats < 0, func() string { return "must be 0 (no limit) or more" })
	v.check("quota.max_staged_bytes", c.Quota.MaxStagedBytes < 0, func() string { return "must be 0 (no limit) or more" })
	v.required("onboarding.space_name_template", c.Onboarding.SpaceNameTemplate)
	v.positive("shutdown.grace", c.Shutdown.Grace)
}

// checkPlaceholders applies the placeholder rules (placeholder.go) to every
// text value, list items included.
func (c *Config) checkPlaceholders(ps *problems) {
	for i := range fields() {
		f := &fields()[i]
		val := c.fieldValue(f)
		var values []string
		switch {
		case val.Kind() == reflect.String:
			values = []string{val.String()}
		case f.typ == typeStrings:
			values = val.Interface().([]string)
		}
		for _, s := range values {
			detail := placeholderDetail(f, s)
			if detail == "" && f.key == "matrix.allowed_servers" && isExampleHost(hostOf(s)) {
				detail = "lists the reserved example domain " + s + "; use real server names"
			}
			if detail == "" {
				continue
			}
			if !f.secret {
				detail = fmt.Sprintf("%q %s", s, detail)
			}
			ps.add(Problem{Key: f.key, Source: c.Source(f.key), Detail: detail, Err: ErrPlaceholder})
			break
		}
	}
}

// validator adds problems with the source of each key filled in.
type validator struct {
	c  *Config
	ps *problems
}

func (v validator) add(key string, kind error, format string, args ...any) {
	src := v.c.Source(key)
	if kind == ErrMissing {
		src = ""
	}
	v.ps.add(Problem{Key: key, Source: src, Detail: fmt.Sprintf(format, args...), Err: kind})
}

// check runs bad (returning a detail, "" when fine) only when cond holds
// and the key has no problem yet.
func (v validator) check(key string, cond bool, bad func() string) {
	if !cond || v.ps.has(key) {
		return
	}
	if detail := bad(); detail != "" {
		v.add(key, ErrInvalidValue, "%s", detail)
	}
}

func (v validator) required(key, value string) {
	if strings.TrimSpace(value) == "" && !v.ps.has(key) {
		v.add(key, ErrMissing, "is required (%s)", envHint(key))
	}
}

func (v validator) oneOf(key, value string, allowed ...string) {
	v.check(key, !slices.Contains(allowed, value), func() string {
		return fmt.Sprintf("%q is not one of %s", value, strings.Join(allowed, ", "))
	})
}

func (v validator) positive(key string, d time.Duration) {
	v.check(key, d <= 0, func() string { return fmt.Sprintf("must be a positive duration such as \"1s\", got %s", d) })
}

// envHint tells where keys can be set.
func envHint(keys ...string) string {
	var names []string
	for _, k := range keys {
		names = append(names, envNamesOf(k)...)
	}
	slices.Sort(names)
	return "in the config file or with " + strings.Join(names, " or ")
}

func checkURL(raw string, schemes ...string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Sprintf("%q is not a URL: %v", raw, err)
	}
	if !slices.Contains(schemes, u.Scheme) || u.Host == "" {
		return fmt.Sprintf("%q is not an absolute %s URL", raw, strings.Join(schemes, "/"))
	}
	return ""
}

// checkUserID accepts "@localpart:server" with a non-empty localpart and
// server and no whitespace (historical user ids allow more characters than
// new ones, so the localpart is not checked further).
func checkUserID(id string) string {
	local, server, ok := strings.Cut(strings.TrimPrefix(id, "@"), ":")
	if !strings.HasPrefix(id, "@") || !ok || local == "" || server == "" || strings.ContainsAny(id, " \t\n") {
		return fmt.Sprintf("%q is not a Matrix user id such as \"@surfaces:matrix.org\"", id)
	}
	return ""
}

// checkMemberID accepts what logs and metric labels show plainly: up to
// 64 printable bytes without spaces.
func checkMemberID(id string) string {
	if len(id) > 64 || strings.IndexFunc(id, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
		return fmt.Sprintf("%q is not a member id: up to 64 printable characters without spaces, such as \"member-1\"", id)
	}
	return ""
}

func checkListen(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port such as \"127.0.0.1:8080\": %v", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("%q has an invalid port %q", addr, port)
	}
	return ""
}

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

// validateAppservice checks what appservice mode needs: a listener, and
// the tokens (from the registration file or set).
func (c *Config) validateAppservice(v validator) {
	as := c.Matrix.Appservice
	v.required("matrix.appservice.listen", as.Listen)
	v.check("matrix.appservice.listen", as.Listen != "", func() string { return checkListen(as.Listen) })
	v.oneOf("matrix.appservice.to_device", as.ToDevice, ToDeviceSync, ToDevicePush)
	if as.Registration == "" && (as.ASToken == "" || as.HSToken == "") {
		v.add("matrix.appservice.registration", ErrMissing,
			"set matrix.appservice.registration to the file `surfaces appservice register` wrote, or both matrix.appservice.as_token and hs_token")
	}
}
