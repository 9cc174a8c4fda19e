package main

import (
	"io"
	"os"
	"time"

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
		w = zerolog.ConsoleWriter{Out: out, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}
