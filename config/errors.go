package config

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels for the kinds of Problem; test them with errors.Is on the error
// Load or Validate returned.
var (
	// ErrMissing: a required key has no value.
	ErrMissing = errors.New("missing required value")
	// ErrPlaceholder: a value is an example placeholder never replaced.
	ErrPlaceholder = errors.New("placeholder value")
	// ErrInvalidValue: a value has the wrong type, syntax or range.
	ErrInvalidValue = errors.New("invalid value")
	// ErrUnknownKey: the file has a key the binary does not know (a typo).
	ErrUnknownKey = errors.New("unknown key")
)

// Problem is one thing wrong with the configuration.
type Problem struct {
	// Key is the dotted key, e.g. "matrix.homeserver".
	Key string
	// Source is where the value came from: `file "path"`, "env NAME",
	// "default", or "" when the key has no value.
	Source string
	// Detail says what is wrong, in words an operator can act on.
	Detail string
	// Err is one of ErrMissing, ErrPlaceholder, ErrInvalidValue, ErrUnknownKey.
	Err error
}

// String renders "key (from source): detail".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Key)
	if p.Source != "" {
		fmt.Fprintf(&b, " (from %s)", p.Source)
	}
	b.WriteString(": ")
	b.WriteString(p.Detail)
	return b.String()
}

// ValidationError is the one error Load and Validate return for a bad
// configuration: it lists every problem, so that an operator fixes them all
// in one round instead of one per restart.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems, one per line when there are several.
func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid configuration: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns the problems' sentinels, so errors.Is(err, ErrPlaceholder)
// tells whether any problem is a placeholder.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, 0, len(e.Problems))
	for _, p := range e.Problems {
		errs = append(errs, p.Err)
	}
	return errs
}

// problems collects Problems, at most one per key: the first found wins,
// because a later check on a value that already failed to decode or is a
// placeholder would only repeat the same complaint in other words.
type problems struct {
	list []Problem
	keys map[string]bool
}

func (ps *problems) add(p Problem) {
	if ps.keys == nil {
		ps.keys = map[string]bool{}
	}
	if ps.keys[p.Key] {
		return
	}
	ps.keys[p.Key] = true
	ps.list = append(ps.list, p)
}

func (ps *problems) has(key string) bool { return ps.keys[key] }

// err returns the ValidationError, or nil when there is no problem.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps.list}
}
