package main

import (
	"io"
	"os"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/config"
)

// newLogger builds the process logger: JSON by default, console on a
// terminal (format auto) or when asked.
func newLogger(cfg config.Log, out io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(cfg.Level)
	if err != nil || cfg.Level == "" {
		level = zerolog.InfoLevel
	}
	var w io.Writer = out
	console := cfg.Format == config.LogFormatConsole
	if cfg.Format == config.LogFormatAuto || cfg.Format == "" {
		if f, ok := out.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				console = true
			}
		}
	}
	if console {
		w = zerolog.ConsoleWriter{Out: out, TimeFormat: "15:04:05.000"}
	}
	// Process-wide, as zerolog has it: protoactor's lines come through
	// zerolog.NewSlogHandler, which stamps them itself unless the logger
	// has zerolog's own Timestamp, so both must use one format.
	zerolog.TimeFieldFormat = timeLayout
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// timeLayout is RFC 3339 to the millisecond: a turn's stages are
// milliseconds apart, and lining the bot's lines up with the homeserver's
// or an agent's needs more than the second zerolog's default gives.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"
