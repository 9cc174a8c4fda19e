package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

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
