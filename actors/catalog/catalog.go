package catalog

import (
	"fmt"
	"slices"
	"strings"
)

// Key names one text of the catalogue.
type Key string

// Locales lists the supported locales; the first is the default.
var Locales = []string{"en", "ru"}

// Catalog renders the texts of one locale.
type Catalog struct {
	locale string
	texts  map[Key]string
}

// New returns the catalogue of locale ("en" or "ru"); an empty locale is "en".
func New(locale string) (*Catalog, error) {
	if locale == "" {
		locale = Locales[0]
	}
	texts, ok := locales[locale]
	if !ok {
		return nil, fmt.Errorf("unknown locale %q (want one of %s)", locale, strings.Join(Locales, ", "))
	}
	return &Catalog{locale: locale, texts: texts}, nil
}

// MustNew is New for locales known to exist (tests, defaults).
func MustNew(locale string) *Catalog {
	c, err := New(locale)
	if err != nil {
		panic(err)
	}
	return c
}

// Locale is the catalogue's locale.
func (c *Catalog) Locale() string { return c.locale }

// T renders key with args given as name/value pairs:
// T(Welcome, "name", "Alice"). A missing translation falls back to English,
// and a missing key renders as the key itself, so a gap never panics.
func (c *Catalog) T(key Key, args ...string) string {
	text, ok := c.texts[key]
	if !ok {
		text, ok = en[key]
	}
	if !ok {
		return string(key)
	}
	if len(args) == 0 {
		return text
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+args[i]+"}", args[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// Keys lists every key of the English catalogue, sorted (for tests).
func Keys() []Key {
	keys := make([]Key, 0, len(en))
	for k := range en {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var locales = map[string]map[Key]string{"en": en, "ru": ru}
