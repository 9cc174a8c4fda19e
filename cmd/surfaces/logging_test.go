package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/config"
)

// Each JSON line carries its time to the millisecond (RFC 3339 with three
// decimals), once, its own lines and protoactor's (through slog) alike, at
// the level the config asks and nothing below it.
func TestLoggerStampsMilliseconds(t *testing.T) {
	var out bytes.Buffer
	log := newLogger(config.Log{Level: "info", Format: config.LogFormatJSON}, &out)
	before := time.Now().Truncate(time.Millisecond)
	log.Debug().Msg("hidden")
	log.Info().Str("room_id", "!r").Msg("shown")
	child := log.With().Str("component", "child").Logger()
	child.Info().Msg("from a child")
	slog.New(zerolog.NewSlogHandler(log)).Warn("from protoactor")
	after := time.Now()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{"shown", "from a child", "from protoactor"}
	if len(lines) != len(want) {
		t.Fatalf("logged %q, want %q only", out.String(), want)
	}
	for i, line := range lines {
		if n := strings.Count(line, `"time":`); n != 1 {
			t.Fatalf("line %s has %d times, want 1", line, n)
		}
		var entry struct {
			Time    string `json:"time"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339Nano, entry.Time)
		if err != nil || len(entry.Time) < len("2006-01-02T15:04:05.000Z") || entry.Time[19] != '.' {
			t.Fatalf("time %q, want RFC 3339 to the millisecond (%v)", entry.Time, err)
		}
		if at.Before(before) || at.After(after) || entry.Message != want[i] {
			t.Fatalf("line %s: time outside [%v, %v] or not %q", line, before, after, want[i])
		}
	}
}
