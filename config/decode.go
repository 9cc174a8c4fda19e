package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Values reach the decoder as YAML gives them (string, int, float64, bool,
// []any, maps) or as environment strings. The decoder is written here
// rather than left to koanf's mapstructure so that every failure names its
// key and source, and so that the lenient conversions mapstructure makes
// (a bare 5 becoming 5ns) are refused instead.

var (
	typeDuration = reflect.TypeFor[time.Duration]()
	typeByteSize = reflect.TypeFor[ByteSize]()
	typeStrings  = reflect.TypeFor[[]string]()
)

// setField decodes raw into f's field of c.
func setField(c *Config, f *field, raw any) error {
	v, err := decodeRaw(f.typ, raw)
	if err != nil {
		return err
	}
	c.fieldValue(f).Set(v)
	return nil
}

// fieldValue is the settable value of f in c.
func (c *Config) fieldValue(f *field) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(f.index)
}

// decodeRaw converts raw to a value of type t.
func decodeRaw(t reflect.Type, raw any) (reflect.Value, error) {
	switch {
	case t == typeDuration:
		s, ok := raw.(string)
		if !ok {
			return reflect.Value{}, fmt.Errorf("want a duration with a unit such as \"1s\" or \"500ms\", got %v", raw)
		}
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return reflect.Value{}, fmt.Errorf("want a duration with a unit such as \"1s\" or \"500ms\": %w", err)
		}
		return reflect.ValueOf(d), nil
	case t == typeByteSize:
		return decodeByteSize(raw)
	case t == typeStrings:
		return decodeStrings(raw)
	}
	switch t.Kind() {
	case reflect.String:
		s, err := scalarString(raw)
		if err != nil {
			return reflect.Value{}, err
		}
		return reflect.ValueOf(s).Convert(t), nil
	case reflect.Bool:
		switch v := raw.(type) {
		case bool:
			return reflect.ValueOf(v), nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return reflect.Value{}, fmt.Errorf("want true or false, got %q", v)
			}
			return reflect.ValueOf(b), nil
		}
		return reflect.Value{}, fmt.Errorf("want true or false, got %v", raw)
	case reflect.Int:
		n, err := decodeInt(raw)
		if err != nil {
			return reflect.Value{}, err
		}
		return reflect.ValueOf(int(n)), nil
	case reflect.Float64:
		f, err := decodeFloat(raw)
		if err != nil {
			return reflect.Value{}, err
		}
		return reflect.ValueOf(f), nil
	}
	// Only reachable if Config gains a field of a type added nowhere here;
	// an error (not a panic) keeps a bad build from crashing on input.
	return reflect.Value{}, fmt.Errorf("unsupported config type %s", t)
}

// scalarString accepts strings and, for convenience, YAML numbers and
// booleans written without quotes (a numeric password, say).
func scalarString(raw any) (string, error) {
	switch v := raw.(type) {
	case string:
		return v, nil
	case int, int64, uint64, float64, bool:
		return fmt.Sprint(v), nil
	}
	return "", fmt.Errorf("want a single text value, got %s", describe(raw))
}

func decodeInt(raw any) (int64, error) {
	switch v := raw.(type) {
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	case uint64:
		if v <= math.MaxInt32 {
			return int64(v), nil
		}
	case float64:
		if v == math.Trunc(v) && math.Abs(v) <= math.MaxInt32 {
			return int64(v), nil
		}
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("want a whole number, got %s", describe(raw))
}

func decodeFloat(raw any) (float64, error) {
	switch v := raw.(type) {
	case int:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case uint64:
		return float64(v), nil
	case float64:
		return v, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, nil
		}
	}
	return 0, fmt.Errorf("want a number, got %s", describe(raw))
}

func decodeByteSize(raw any) (reflect.Value, error) {
	switch v := raw.(type) {
	case int:
		if v >= 0 {
			return reflect.ValueOf(ByteSize(v)), nil
		}
	case int64:
		if v >= 0 {
			return reflect.ValueOf(ByteSize(v)), nil
		}
	case string:
		b, err := ParseByteSize(v)
		if err != nil {
			return reflect.Value{}, err
		}
		return reflect.ValueOf(b), nil
	}
	return reflect.Value{}, fmt.Errorf("want a size such as 52428800 or \"50MiB\", got %s", describe(raw))
}

// decodeStrings accepts a YAML list of scalars or, from the environment, a
// comma-separated string. Empty items are dropped, so "" is an empty list.
func decodeStrings(raw any) (reflect.Value, error) {
	var items []string
	switch v := raw.(type) {
	case string:
		items = strings.Split(v, ",")
	case []any:
		for i, item := range v {
			s, err := scalarString(item)
			if err != nil {
				return reflect.Value{}, fmt.Errorf("item %d: %w", i+1, err)
			}
			items = append(items, s)
		}
	default:
		return reflect.Value{}, fmt.Errorf("want a list or a comma-separated string, got %s", describe(raw))
	}
	out := []string{}
	for _, s := range items {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return reflect.ValueOf(out), nil
}

// describe names a value's shape without echoing it (it may be a secret).
func describe(raw any) string {
	switch raw.(type) {
	case map[string]any, map[any]any:
		return "a mapping"
	case []any:
		return "a list"
	case nil:
		return "nothing"
	case string:
		return "text"
	default:
		return fmt.Sprintf("a %T", raw)
	}
}
