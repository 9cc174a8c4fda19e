package config

import (
	"reflect"
	"strings"
	"sync"
)

// field is one leaf key of Config. The table of fields is derived from the
// struct's koanf tags once, and drives everything that must agree on the
// set of keys: unknown-key detection in the file, the environment names,
// decoding, placeholder checks and printing.
type field struct {
	// key is the dotted path, e.g. "streaming.edit_interval".
	key string
	// env is the canonical environment name, e.g. "SURFACES_STREAMING_EDIT_INTERVAL".
	env string
	// index locates the field in Config for reflect.Value.FieldByIndex.
	index []int
	typ   reflect.Type
	// secret values are never printed; text values are free prose.
	secret, text bool
}

// envPrefix starts every canonical environment name.
const envPrefix = "SURFACES_"

var (
	fieldsOnce  sync.Once
	fieldList   []field
	fieldsByKey map[string]*field
	sectionKeys map[string]bool
)

// fields returns the table in struct order.
func fields() []field {
	fieldsOnce.Do(buildFields)
	return fieldList
}

// lookupField returns the field of a dotted key.
func lookupField(key string) (*field, bool) {
	fieldsOnce.Do(buildFields)
	f, ok := fieldsByKey[key]
	return f, ok
}

// isSection reports whether key names a section (a struct of keys).
func isSection(key string) bool {
	fieldsOnce.Do(buildFields)
	return sectionKeys[key]
}

func buildFields() {
	fieldsByKey = map[string]*field{}
	sectionKeys = map[string]bool{}
	walkFields(reflect.TypeFor[Config](), nil, "")
	for i := range fieldList {
		fieldsByKey[fieldList[i].key] = &fieldList[i]
	}
}

// walkFields appends the leaves under t. Structs other than the section
// types are not nested in Config, so every struct is a section.
func walkFields(t reflect.Type, index []int, prefix string) {
	for i := range t.NumField() {
		sf := t.Field(i)
		name := sf.Tag.Get("koanf")
		if !sf.IsExported() || name == "" || name == "-" {
			continue
		}
		key := prefix + name
		idx := append(append([]int(nil), index...), i)
		if sf.Type.Kind() == reflect.Struct {
			sectionKeys[key] = true
			walkFields(sf.Type, idx, key+".")
			continue
		}
		tag := sf.Tag.Get("cfg")
		fieldList = append(fieldList, field{
			key:    key,
			env:    envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_")),
			index:  idx,
			typ:    sf.Type,
			secret: tag == "secret",
			text:   tag == "text",
		})
	}
}

// closestKey suggests the known key nearest to an unknown one (typo
// protection), or "" when nothing is close.
func closestKey(unknown string) string {
	best, bestDist := "", len(unknown)/3+2
	for _, f := range fields() {
		if d := editDistance(unknown, f.key); d < bestDist {
			best, bestDist = f.key, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
