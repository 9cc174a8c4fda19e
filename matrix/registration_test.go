package matrix

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestRegistration(t *testing.T) {
	r, err := NewRegistration("@surfaces:example.org", "http://bot:8090")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewRegistration("@surfaces:example.org", "http://bot:8090")
	if len(r.ASToken) < 32 || len(r.HSToken) < 32 || r.ASToken == r.HSToken || r.ASToken == other.ASToken {
		t.Fatalf("tokens %q %q: want two long, distinct, random ones", r.ASToken, r.HSToken)
	}
	if r.SenderLocalpart != "surfaces" || r.RateLimited || len(r.Namespaces.Users) != 1 || !r.Namespaces.Users[0].Exclusive {
		t.Fatalf("registration %+v: want the bot's localpart, no rate limit, one exclusive user namespace", r)
	}
	ns := regexp.MustCompile(r.Namespaces.Users[0].Regex)
	for user, want := range map[string]bool{"@surfaces:example.org": true, "@surfaces:exampleXorg": false, "@surfaces2:example.org": false, "@alice:example.org": false} {
		if ns.MatchString(user) != want {
			t.Errorf("namespace %q matches %s: %v, want %v", ns, user, !want, want)
		}
	}

	path := filepath.Join(t.TempDir(), "registration.yaml")
	if err := r.Write(path, false); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600: it holds secrets", fi.Mode().Perm())
	}
	if err := other.Write(path, false); !errors.Is(err, ErrRegistrationExists) {
		t.Fatalf("writing over it: %v, want ErrRegistrationExists", err)
	}
	back, err := LoadRegistration(path)
	if err != nil || back.ASToken != r.ASToken || back.HSToken != r.HSToken || back.URL != r.URL {
		t.Fatalf("read back %+v, %v", back, err)
	}
	if err := other.Write(path, true); err != nil {
		t.Fatal(err)
	}
	if back, _ := LoadRegistration(path); back.ASToken != other.ASToken {
		t.Fatal("replace did not replace")
	}
	for _, bad := range []string{"surfaces", "@surfaces", "@:x", ""} {
		if _, err := NewRegistration(bad, "http://x"); err == nil {
			t.Errorf("NewRegistration(%q) accepted", bad)
		}
	}
}

// The registration asks for pushed keys only when told to, under the keys
// Synapse reads (MSC2409's stable and unstable ones, MSC3202's).
func TestRegistrationPushKeys(t *testing.T) {
	keys := []string{"receive_ephemeral: true", "de.sorunome.msc2409.push_ephemeral: true", "org.matrix.msc3202: true"}
	for _, push := range []bool{false, true} {
		r, err := NewRegistration("@surfaces:example.org", "http://bot:8090")
		if err != nil {
			t.Fatal(err)
		}
		if push {
			r.PushKeys()
		}
		path := filepath.Join(t.TempDir(), "registration.yaml")
		if err := r.Write(path, false); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range keys {
			if got := strings.Contains(string(raw), key); got != push {
				t.Errorf("push %v: %q in the file is %v\n%s", push, key, got, raw)
			}
		}
	}
}
