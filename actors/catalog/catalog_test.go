package catalog

import (
	"slices"
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

// TestLocalesAgree: no locale has a key English lacks, and every text uses
// the same {placeholders} as its English original, so T fills them all.
func TestLocalesAgree(t *testing.T) {
	placeholders := func(s string) []string {
		var out []string
		for {
			i := strings.Index(s, "{")
			j := strings.Index(s[i+1:], "}")
			if i < 0 || j < 0 {
				break
			}
			out = append(out, s[i:i+j+2])
			s = s[i+j+2:]
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	for _, loc := range Locales {
		for k, text := range locales[loc] {
			orig, ok := en[k]
			if !ok {
				t.Errorf("locale %s has %s, which English lacks", loc, k)
				continue
			}
			if got, want := placeholders(text), placeholders(orig); !slices.Equal(got, want) {
				t.Errorf("locale %s, %s: placeholders %v, English has %v", loc, k, got, want)
			}
		}
	}
}
