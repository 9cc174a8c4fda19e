package harness

import (
	"bytes"
	"io"
	"sync"
)

// maxKeptLines bounds the memory of a chatty child; WaitForLine only sees the
// lines kept, which is plenty for start-up banners.
const maxKeptLines = 100_000

// lineLog is the stdout writer of a Process: it copies everything to the log
// file and keeps complete lines, waking waiters on each new line.
type lineLog struct {
	file io.Writer

	mu       sync.Mutex
	lines    []string
	dropped  int // lines forgotten because of maxKeptLines
	partial  []byte
	changed  chan struct{}
	finished bool
}

func newLineLog(file io.Writer) *lineLog {
	return &lineLog{file: file, changed: make(chan struct{})}
}

// Write implements io.Writer; a log file write error is returned so exec
// reports it, but lines are kept either way.
func (l *lineLog) Write(b []byte) (int, error) {
	n, err := l.file.Write(b)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.appendLocked(string(bytes.TrimRight(l.partial[:i], "\r")))
		l.partial = l.partial[i+1:]
		added = true
	}
	if added {
		l.wakeLocked()
	}
	if err != nil {
		return n, err
	}
	return len(b), nil
}

func (l *lineLog) appendLocked(line string) {
	l.lines = append(l.lines, line)
	if len(l.lines) > maxKeptLines {
		drop := len(l.lines) - maxKeptLines
		l.lines = append([]string(nil), l.lines[drop:]...)
		l.dropped += drop
	}
}

func (l *lineLog) wakeLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// finish marks the end of output; an unterminated last line still counts.
func (l *lineLog) finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.appendLocked(string(l.partial))
		l.partial = nil
	}
	l.finished = true
	l.wakeLocked()
}

// since returns the lines from absolute index next on, the absolute index
// after them, a channel closed on the next change, and whether output ended.
func (l *lineLog) since(next int) ([]string, int, <-chan struct{}, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := next - l.dropped
	if i < 0 {
		i = 0
	}
	if i > len(l.lines) {
		i = len(l.lines)
	}
	return append([]string(nil), l.lines[i:]...), l.dropped + len(l.lines), l.changed, l.finished
}
