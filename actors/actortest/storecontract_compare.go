package actortest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The contract's equality of records, and the check that a fixture sets every field.

// checkSameRecord reports every field where got differs from want, under the
// contract's equality: times by time.Equal, nil and empty slices alike.
func checkSameRecord[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if diffs := diffValues("", reflect.ValueOf(got), reflect.ValueOf(want), nil); len(diffs) > 0 {
		t.Errorf("%s differs from what was put:\n\t%s", what, strings.Join(diffs, "\n\t"))
	}
}

var diffTimeType = reflect.TypeFor[time.Time]()

// diffValues appends one line per difference between got and want, which
// have the same type, naming the field path ("" for the top value). Records have only exported
// fields, so it walks them whole; new fields are compared without change.
func diffValues(path string, got, want reflect.Value, out []string) []string {
	if got.Type() == diffTimeType {
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !g.Equal(w) {
			out = append(out, fmt.Sprintf("%s: got %s, want %s (a different instant)", diffWhere(path), g.Format(time.RFC3339Nano), w.Format(time.RFC3339Nano)))
		}
		return out
	}
	switch got.Kind() {
	case reflect.Struct:
		for i := range got.NumField() {
			out = diffValues(diffFieldPath(path, got.Type().Field(i).Name), got.Field(i), want.Field(i), out)
		}
	case reflect.Slice:
		if got.Len() != want.Len() {
			return append(out, fmt.Sprintf("%s: got %d elements %+v, want %d elements %+v", diffWhere(path), got.Len(), got.Interface(), want.Len(), want.Interface()))
		}
		for i := range got.Len() {
			out = diffValues(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i), out)
		}
	case reflect.Pointer:
		switch {
		case got.IsNil() && want.IsNil():
		case got.IsNil() || want.IsNil():
			out = append(out, fmt.Sprintf("%s: got %s, want %s", diffWhere(path), diffPointer(got), diffPointer(want)))
		default:
			out = diffValues(path, got.Elem(), want.Elem(), out)
		}
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			out = append(out, fmt.Sprintf("%s: got %#v, want %#v", diffWhere(path), got.Interface(), want.Interface()))
		}
	}
	return out
}

// diffFieldPath names field name of the value at path ("" is the top).
func diffFieldPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// diffWhere labels path in a difference.
func diffWhere(path string) string {
	if path == "" {
		return "the whole value"
	}
	return path
}

func diffPointer(v reflect.Value) string {
	if v.IsNil() {
		return "nil"
	}
	return fmt.Sprintf("&%+v", v.Elem().Interface())
}

// requireEveryFieldSet fails t when the fixture v leaves a field (at any
// depth) at its zero value: a round trip of such a fixture would not notice
// a store that drops the field. A field added to a record must be given a
// value in the fixture.
func requireEveryFieldSet(t *testing.T, what string, v any) {
	t.Helper()
	if unset := unsetRecordFields(reflect.TypeOf(v).Name(), reflect.ValueOf(v), nil); len(unset) > 0 {
		t.Fatalf("%s leaves %q at the zero value, want every field set so that the round trip covers it", what, unset)
	}
}

func unsetRecordFields(path string, v reflect.Value, out []string) []string {
	if v.Type() == diffTimeType {
		if v.Interface().(time.Time).IsZero() {
			out = append(out, path)
		}
		return out
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			out = unsetRecordFields(path+"."+v.Type().Field(i).Name, v.Field(i), out)
		}
	case reflect.Slice:
		if v.Len() == 0 {
			return append(out, path)
		}
		for i := range v.Len() {
			out = unsetRecordFields(fmt.Sprintf("%s[%d]", path, i), v.Index(i), out)
		}
	case reflect.Pointer:
		if v.IsNil() {
			return append(out, path)
		}
		out = unsetRecordFields(path, v.Elem(), out)
	default:
		if v.IsZero() {
			out = append(out, path)
		}
	}
	return out
}
