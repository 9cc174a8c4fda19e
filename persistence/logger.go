package persistence

import (
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"
)

// badgerLogger sends Badger's own log lines to zerolog instead of Badger's
// default stderr logger, so that they share the process's format and level.
// Badger is chatty at info (table counts, compactions, value log replays):
// those are debug for an operator. Warnings stay warnings, errors errors.
type badgerLogger struct {
	log zerolog.Logger
}

var _ badger.Logger = badgerLogger{}

func newBadgerLogger(l *zerolog.Logger) badgerLogger {
	return badgerLogger{log: l.With().Str("component", "badger").Logger()}
}

// Errorf logs at error level.
func (b badgerLogger) Errorf(format string, args ...any) {
	b.emit(b.log.Error(), format, args)
}

// Warningf logs at warn level.
func (b badgerLogger) Warningf(format string, args ...any) {
	b.emit(b.log.Warn(), format, args)
}

// Infof logs at debug level (see the type comment).
func (b badgerLogger) Infof(format string, args ...any) {
	b.emit(b.log.Debug(), format, args)
}

// Debugf logs at debug level.
func (b badgerLogger) Debugf(format string, args ...any) {
	b.emit(b.log.Debug(), format, args)
}

// emit formats Badger's printf-style line once, and only when the level is
// enabled (e is nil otherwise). Badger ends lines with "\n", which a
// structured message must not carry.
func (badgerLogger) emit(e *zerolog.Event, format string, args []any) {
	if e == nil {
		return
	}
	e.Msg(strings.TrimSpace(fmt.Sprintf(format, args...)))
}
