package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleConfig = `version: 2
global:
  server_name: localhost
  private_key: matrix_key.pem
  disable_federation: false
client_api:
  registration_shared_secret: complement
  recaptcha_private_key: ""
media_api:
  max_file_size_bytes: 10485760
logging:
- type: std
  level: trace
`

func TestApplyConfigEdits(t *testing.T) {
	opts := Options{}.withDefaults()
	got, err := applyConfigEdits(sampleConfig, configEdits("/tmp/hs", opts))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  disable_federation: true\n",
		"  private_key: \"/tmp/hs/matrix_key.pem\"\n",
		"  recaptcha_private_key: \"\"\n",
		"  max_file_size_bytes: 104857600\n",
		"  level: info\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("edited config lacks %q:\n%s", want, got)
		}
	}
	secret, err := configValue(got, "registration_shared_secret")
	if err != nil || secret != "complement" {
		t.Errorf("shared secret = %q, %v; want complement", secret, err)
	}
}

func TestApplyConfigEditsRejectsMissingOrRepeatedKeys(t *testing.T) {
	if _, err := applyConfigEdits(sampleConfig, []configEdit{{key: "no_such_key", value: "1"}}); err == nil {
		t.Error("missing key: want an error")
	}
	twice := sampleConfig + "other:\n  level: debug\n"
	if _, err := applyConfigEdits(twice, []configEdit{{key: "level", value: "info"}}); err == nil {
		t.Error("repeated key: want an error")
	}
	if _, err := configValue(sampleConfig, "no_such_key"); err == nil {
		t.Error("configValue of a missing key: want an error")
	}
}

func TestRegisterMAC(t *testing.T) {
	// Expected values computed independently with Python's hmac module over
	// "nonce\0user\0password\0notadmin|admin".
	if got := registerMAC("complement", "abc", "alice", "password1", false); got != "51dbe49b9a73bd51500fe2ce4617c6798a3909ff" {
		t.Errorf("notadmin MAC = %s", got)
	}
	if got := registerMAC("complement", "abc", "alice", "password1", true); got != "d2819512fecc808bf1280c2091937eba909be503" {
		t.Errorf("admin MAC = %s", got)
	}
}

func TestModulePath(t *testing.T) {
	if got := modulePath([]byte("// comment\nmodule github.com/surfaces-bot/surfaces\n\ngo 1.26\n")); got != mainModulePath {
		t.Errorf("modulePath = %q", got)
	}
	if got := modulePath([]byte("go 1.26\n")); got != "" {
		t.Errorf("modulePath without module line = %q; want empty", got)
	}
}

func TestSqliteWAL(t *testing.T) {
	const wal = "%3F_pragma=journal_mode(WAL)"
	tests := []struct {
		name, in, want string
		changed        int
	}{
		{"absolute path", "  connection_string: file:/tmp/hs/a.db", "  connection_string: file:///tmp/hs/a.db" + wal, 1},
		{"already a file:/// URI", "  connection_string: file:///tmp/hs/a.db", "  connection_string: file:///tmp/hs/a.db" + wal, 1},
		{"already in WAL mode", "  connection_string: file:///tmp/hs/a.db" + wal, "  connection_string: file:///tmp/hs/a.db" + wal, 0},
		{"relative path left alone", "  connection_string: file:a.db", "  connection_string: file:a.db", 0},
		{"empty global string left alone", `  connection_string: ""`, `  connection_string: ""`, 0},
		{"postgres left alone", "  connection_string: postgres://u@h/db", "  connection_string: postgres://u@h/db", 0},
		{"two databases", "db1:\n  connection_string: file:/x/1.db\ndb2:\n  connection_string: file:/x/2.db",
			"db1:\n  connection_string: file:///x/1.db" + wal + "\ndb2:\n  connection_string: file:///x/2.db" + wal, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n := sqliteWAL(tc.in)
			if got != tc.want || n != tc.changed {
				t.Errorf("sqliteWAL(%q) = %q, %d; want %q, %d", tc.in, got, n, tc.want, tc.changed)
			}
		})
	}
}

func TestLogHasPanic(t *testing.T) {
	const stopping = "level=info msg=\"stopping\"\n"
	tests := []struct {
		name, log string
		limit     int64
		want      bool
	}{
		{"clean", "time=x level=info msg=\"started\"\n", -1, false},
		{"a panic once told to stop", stopping + "panic: (*logrus.Entry) 0x1\n", int64(len(stopping)), false},
		{"a panic before", "panic: (*logrus.Entry) 0x1\n" + stopping, int64(len("panic: (*logrus.Entry) 0x1\n")), true},
		{"runtime panic", "level=info msg=ok\npanic: runtime error: index out of range\n\ngoroutine 1 [running]:\n", -1, true},
		{"sqlite transaction", "level=error msg=\"cannot start a transaction within a transaction\"\n", -1, true},
		{"the word panic in a message", "level=info msg=\"no panic here\"\n", -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dendrite.log")
			if err := os.WriteFile(path, []byte(tc.log), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := logHasPanic(path, tc.limit); got != tc.want {
				t.Errorf("logHasPanic(%q) = %v, want %v", tc.log, got, tc.want)
			}
		})
	}
}

func TestWithMaxOpenConns(t *testing.T) {
	cfg := "global:\n  database:\n    connection_string: postgres://x\n    max_open_conns: 90\n    max_idle_conns: 5\n"
	got, err := withMaxOpenConns(cfg, 436)
	if err != nil || !strings.Contains(got, "max_open_conns: 436\n") || strings.Contains(got, "max_open_conns: 90") {
		t.Fatalf("got %q, %v; want the pool raised to 436", got, err)
	}
	if _, err := withMaxOpenConns("global:\n  database: {}\n", 436); err == nil {
		t.Fatal("a config without max_open_conns was edited without an error")
	}
}

func TestWithMaxIdleConns(t *testing.T) {
	cfg := "global:\n  database:\n    connection_string: postgres://x\n    max_open_conns: 90\n    max_idle_conns: 2\n"
	got, err := withMaxIdleConns(cfg, 40)
	if err != nil || !strings.Contains(got, "max_idle_conns: 40\n") || strings.Contains(got, "max_idle_conns: 2\n") {
		t.Fatalf("got %q, %v; want 40 idle connections", got, err)
	}
	if _, err := withMaxIdleConns("global:\n  database: {}\n", 40); err == nil {
		t.Fatal("a config without max_idle_conns was edited without an error")
	}
}
