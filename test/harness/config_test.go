package harness

import (
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
