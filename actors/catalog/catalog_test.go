package catalog

import (
	"strings"
	"testing"
)

func TestEveryLocaleHasEveryKey(t *testing.T) {
	for _, loc := range Locales {
		t.Run(loc, func(t *testing.T) {
			for _, k := range Keys() {
				if strings.TrimSpace(locales[loc][k]) == "" {
					t.Errorf("locale %s has no text for %s", loc, k)
				}
			}
		})
	}
}

func TestT(t *testing.T) {
	tests := []struct {
		name, locale string
		key          Key
		args         []string
		want         string
	}{
		{"placeholder", "en", UnknownCmd, []string{"command", "!foo"}, "Unknown command `!foo`, see `!help`."},
		{"russian", "ru", ChatName, []string{"n", "3"}, "Чат 3"},
		{"missing key renders the key", "en", Key("nope"), nil, "nope"},
		{"odd args ignored", "en", ChatName, []string{"n", "1", "dangling"}, "Chat 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MustNew(tc.locale).T(tc.key, tc.args...); got != tc.want {
				t.Fatalf("T = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewRejectsUnknownLocale(t *testing.T) {
	if _, err := New("de"); err == nil {
		t.Fatal("New(de) succeeded")
	}
	if c, err := New(""); err != nil || c.Locale() != "en" {
		t.Fatalf("New(\"\") = %v, %v; want en", c, err)
	}
}
