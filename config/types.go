package config

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// redactedText replaces a secret wherever a Config is printed.
const redactedText = "[redacted]"

// Secret is a credential. It prints, formats and marshals as "[redacted]"
// (or "" when empty), so a Config can be logged whole; Reveal returns the
// value for the one place that needs it.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String redacts the value (fmt's %v, %s and %q use it).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redactedText
}

// GoString redacts the value for %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalJSON redacts the value (zerolog's Interface, encoding/json).
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText redacts the value (YAML and other text encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ByteSize is a size in bytes. In the file and the environment it is a
// plain number of bytes or a number with a unit: B, KB/MB/GB (powers of
// 1000) or KiB/MiB/GiB (powers of 1024), e.g. "50MiB", "1.5 GB".
type ByteSize int64

// Size units.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
)

var byteUnits = map[string]float64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
}

// ParseByteSize parses a size as described on ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	mult, ok := byteUnits[unit]
	if !ok || num == "" {
		return 0, fmt.Errorf("invalid size %q: want bytes or a number with B, KB, MB, GB, KiB, MiB or GiB", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, err)
	}
	v := f * mult
	if v != math.Trunc(v) || v > math.MaxInt64/2 {
		return 0, fmt.Errorf("invalid size %q: not a whole number of bytes in range", s)
	}
	return ByteSize(v), nil
}

// UnmarshalText parses a size, so ByteSize also works with text decoders.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// String formats the size with the largest binary unit that divides it.
func (b ByteSize) String() string {
	switch {
	case b != 0 && b%GiB == 0:
		return strconv.FormatInt(int64(b/GiB), 10) + "GiB"
	case b != 0 && b%MiB == 0:
		return strconv.FormatInt(int64(b/MiB), 10) + "MiB"
	case b != 0 && b%KiB == 0:
		return strconv.FormatInt(int64(b/KiB), 10) + "KiB"
	default:
		return strconv.FormatInt(int64(b), 10) + "B"
	}
}

// Redacted returns a copy of c whose secrets are replaced by "[redacted]"
// (empty ones stay empty), safe to hand to anything that might print or
// serialise it by reflection.
func (c *Config) Redacted() *Config {
	out := *c
	out.Matrix.AllowedServers = slices.Clone(c.Matrix.AllowedServers)
	for i := range fields() {
		f := &fields()[i]
		if f.secret {
			v := out.fieldValue(f)
			v.SetString(Secret(v.String()).String())
		}
	}
	return &out
}

// String renders the effective configuration as "key = value  # source"
// lines in struct order, secrets redacted: what `surfaces config validate`
// prints.
func (c *Config) String() string {
	var b strings.Builder
	for i := range fields() {
		f := &fields()[i]
		fmt.Fprintf(&b, "%s = %s  # %s\n", f.key, c.format(f), c.Source(f.key))
	}
	return b.String()
}

// format renders one value the way the file would spell it.
func (c *Config) format(f *field) string {
	v := c.fieldValue(f)
	switch {
	case f.secret:
		return fmt.Sprintf("%q", Secret(v.String()).String())
	case v.Kind() == reflect.String:
		return fmt.Sprintf("%q", v.String())
	case f.typ == typeStrings:
		items := v.Interface().([]string)
		quoted := make([]string, len(items))
		for i, s := range items {
			quoted[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(quoted, ", ") + "]"
	case f.typ == typeDuration, f.typ == typeByteSize:
		return fmt.Sprintf("%q", fmt.Sprint(v.Interface()))
	default:
		return fmt.Sprint(v.Interface())
	}
}
