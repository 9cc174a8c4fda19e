package actors_test

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/surfaces-bot/surfaces/actors"
)

// Every field of TurnStages is yielded by All, once, in the field order,
// under its name in StageNames: a stage added to the struct and not to the
// list (or the other way round) fails here.
func TestTurnStagesAll(t *testing.T) {
	var s actors.TurnStages
	v := reflect.ValueOf(&s).Elem()
	if v.NumField() != len(actors.StageNames) {
		t.Fatalf("TurnStages has %d fields, StageNames %d names", v.NumField(), len(actors.StageNames))
	}
	for i := range v.NumField() {
		v.Field(i).SetInt(int64(i+1) * int64(time.Millisecond))
	}
	for i := range v.NumField() {
		if got := snake(v.Type().Field(i).Name); got != actors.StageNames[i] {
			t.Fatalf("the field %s is named %q in StageNames, want %q", v.Type().Field(i).Name, actors.StageNames[i], got)
		}
	}
	i := 0
	for name, d := range s.All() {
		if name != actors.StageNames[i] || d != time.Duration(i+1)*time.Millisecond {
			t.Fatalf("stage %d yielded as %s %v, want %s %v (the field %s)", i, name, d,
				actors.StageNames[i], time.Duration(i+1)*time.Millisecond, v.Type().Field(i).Name)
		}
		i++
	}
	if i != len(actors.StageNames) {
		t.Fatalf("All yielded %d stages, want %d", i, len(actors.StageNames))
	}
	for name := range s.All() {
		_ = name
		break // stopping early must not panic
	}
}

// snake is FirstVisible as first_visible.
func snake(name string) string {
	var b strings.Builder
	for i, r := range name {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
