package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/config"
)

// Each JSON line carries its time to the millisecond (RFC 3339 with three
// decimals), the level the config asks and nothing below it.
func TestLoggerStampsMilliseconds(t *testing.T) {
	var out bytes.Buffer
	log := newLogger(config.Log{Level: "info", Format: config.LogFormatJSON}, &out)
	before := time.Now().Truncate(time.Millisecond)
	log.Debug().Msg("hidden")
	log.Info().Str("room_id", "!r").Msg("shown")
	after := time.Now()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("logged %q, want the info line only", out.String())
	}
	var entry struct {
		Time    string `json:"time"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339Nano, entry.Time)
	if err != nil || len(entry.Time) < len("2006-01-02T15:04:05.000Z") || entry.Time[19] != '.' {
		t.Fatalf("time %q, want RFC 3339 to the millisecond (%v)", entry.Time, err)
	}
	if at.Before(before) || at.After(after) || entry.Message != "shown" {
		t.Fatalf("line %s: time outside [%v, %v] or not the info line", lines[0], before, after)
	}
}
