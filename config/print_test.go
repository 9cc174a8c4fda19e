package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

const (
	testToken    = "syt_c2VjcmV0_SuperSecretValue_9z"
	testPassword = "correct-horse-battery"
)

func newTestSecretConfig(t *testing.T) *Config {
	t.Helper()
	return mustLoad(t, LoadOptions{Env: withEnv(
		"MATRIX_ACCESS_TOKEN="+testToken,
		"MATRIX_PASSWORD="+testPassword,
	)})
}

func TestSecretsNeverPrinted(t *testing.T) {
	c := newTestSecretConfig(t)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	renderings := map[string]string{
		"String":         c.String(),
		"%v":             fmt.Sprintf("%v", c),
		"%+v value":      fmt.Sprintf("%+v", *c),
		"%#v value":      fmt.Sprintf("%#v", *c),
		"%v matrix":      fmt.Sprintf("%v", c.Matrix),
		"%s token":       fmt.Sprintf("%s", c.Matrix.AccessToken),
		"json":           string(js),
		"Redacted %+v":   fmt.Sprintf("%+v", *c.Redacted()),
		"Redacted field": string(c.Redacted().Matrix.AccessToken),
	}
	for name, out := range renderings {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(out, "SuperSecretValue") || strings.Contains(out, testPassword) {
				t.Fatalf("output leaks a secret:\n%s", out)
			}
		})
	}
	if c.Matrix.AccessToken.Reveal() != testToken {
		t.Fatalf("Reveal = %q, want the token", c.Matrix.AccessToken.Reveal())
	}
	if c.Redacted().Matrix.Password.Reveal() != redactedText {
		t.Fatalf("Redacted password = %q", c.Redacted().Matrix.Password.Reveal())
	}
}

func TestString(t *testing.T) {
	c := newTestSecretConfig(t)
	out := c.String()
	for _, want := range []string{
		`matrix.access_token = "[redacted]"  # env MATRIX_ACCESS_TOKEN`,
		`matrix.device_id = ""  # default`,
		`matrix.allowed_servers = []  # default`,
		`workspace.max_file_size = "50MiB"  # default`,
		`streaming.edit_interval = "1s"  # default`,
		`rate_limit.rate = 0.5  # default`,
		`agents.user_selectable = false  # default`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("String() lacks %q:\n%s", want, out)
		}
	}
	if got, want := strings.Count(out, "\n"), len(fields()); got != want {
		t.Errorf("String() has %d lines, want one per key (%d)", got, want)
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		wantErr bool
	}{
		{in: "0", want: 0},
		{in: "1024", want: KiB},
		{in: "50MiB", want: 50 * MiB},
		{in: "50 mib", want: 50 * MiB},
		{in: "1.5GiB", want: 3 * GiB / 2},
		{in: "10MB", want: 10_000_000},
		{in: "2kb", want: 2000},
		{in: "7B", want: 7},
		{in: "", wantErr: true},
		{in: "MiB", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "1.5", wantErr: true},
		{in: "5 parsecs", wantErr: true},
		{in: "1..2MiB", wantErr: true},
		{in: "99999999999GiB", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var got ByteSize
			err := got.UnmarshalText([]byte(tc.in))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseByteSize(%q) = %d, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseByteSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
	for size, want := range map[ByteSize]string{0: "0B", 7: "7B", KiB: "1KiB", 50 * MiB: "50MiB", 2 * GiB: "2GiB", 1500: "1500B"} {
		if got := size.String(); got != want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(size), got, want)
		}
	}
}
