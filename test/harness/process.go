package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"time"
)

// DefaultStopGrace is how long Stop waits after SIGTERM before it kills.
const DefaultStopGrace = 10 * time.Second

// Process is a child process started by StartProcess. Its stdout and stderr go
// to a log file; stdout is also kept line by line for WaitForLine.
type Process struct {
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	stdout  *lineLog

	done    chan struct{}
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

// StartProcess starts bin with args; env entries are added to the current
// environment (later entries win). Stdout and stderr are appended to logPath,
// which is created or truncated. ctx bounds only the start: the process runs
// until Stop, which the caller must arrange (t.Cleanup(func() { p.Stop() })).
func StartProcess(ctx context.Context, bin string, args []string, env []string, logPath string) (*Process, error) {
	if bin == "" || logPath == "" {
		return nil, errors.New("failed to start a process: binary and log path are required")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("failed to start %s: %w", bin, err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("failed to create the log file %s: %w", logPath, err)
	}
	p := &Process{
		logPath: logPath,
		logFile: logFile,
		stdout:  newLineLog(logFile),
		done:    make(chan struct{}),
	}
	// Not CommandContext: the process must outlive the start context and
	// end only through Stop, so that cleanup order stays in the test's hands.
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = p.stdout
	cmd.Stderr = logFile
	// A grandchild that keeps stdout open must not block Wait forever.
	cmd.WaitDelay = 5 * time.Second
	startInOwnGroup(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("failed to start %s: %w", bin, err)
	}
	p.cmd = cmd
	go func() {
		p.waitErr = cmd.Wait()
		p.stdout.finish()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid returns the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// LogPath returns the file holding the child's stdout and stderr.
func (p *Process) LogPath() string { return p.logPath }

// Done is closed once the process has exited and its output is flushed.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitErr returns how the process ended (nil for exit status 0); it is only
// meaningful after Done is closed.
func (p *Process) ExitErr() error {
	select {
	case <-p.done:
		return p.waitErr
	default:
		return nil
	}
}

// Stop ends the process: SIGTERM to its process group, DefaultStopGrace to
// exit, then SIGKILL. It is safe to call more than once and after the process
// exited on its own; it returns an error only if the process could not be
// ended.
func (p *Process) Stop() error {
	return p.StopWithGrace(DefaultStopGrace)
}

// StopWithGrace is Stop with a chosen grace period between SIGTERM and SIGKILL.
func (p *Process) StopWithGrace(grace time.Duration) error {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		_ = terminate(p.cmd.Process)
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-p.done:
			return
		case <-timer.C:
		}
		if err := kill(p.cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
			p.stopErr = fmt.Errorf("failed to kill pid %d: %w", p.cmd.Process.Pid, err)
		}
		// SIGKILL cannot be ignored; the bound is only against a stuck Wait.
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.stopErr = fmt.Errorf("failed to stop pid %d: still running after SIGKILL", p.cmd.Process.Pid)
		}
	})
	return p.stopErr
}

// Kill ends the process at once with SIGKILL, as a crash would, and waits
// for it to be gone.
func (p *Process) Kill() error {
	p.stopOnce.Do(func() {
		if err := kill(p.cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
			p.stopErr = fmt.Errorf("failed to kill pid %d: %w", p.cmd.Process.Pid, err)
			return
		}
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.stopErr = fmt.Errorf("failed to kill pid %d: still running after SIGKILL", p.cmd.Process.Pid)
		}
	})
	return p.stopErr
}

// WaitForLine waits until the child prints a stdout line matching re and
// returns the match and its submatches (re.FindStringSubmatch). Lines printed
// before the call count. It fails when ctx ends or the process exits first.
func (p *Process) WaitForLine(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	if re == nil {
		return nil, errors.New("failed to wait for a line: nil regexp")
	}
	next := 0
	for {
		lines, after, changed, finished := p.stdout.since(next)
		for _, line := range lines {
			if m := re.FindStringSubmatch(line); m != nil {
				return m, nil
			}
		}
		next = after
		if finished {
			return nil, fmt.Errorf("failed to see a line matching %q: the process exited (%v); log %s", re, p.ExitErr(), p.logPath)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("failed to see a line matching %q: %w; log %s", re, ctx.Err(), p.logPath)
		}
	}
}

// StdoutLines returns a copy of the stdout lines printed so far.
func (p *Process) StdoutLines() []string {
	lines, _, _, _ := p.stdout.since(0)
	return lines
}

// LogTail returns the last n lines of the log file (stdout and stderr), for
// failure messages.
func (p *Process) LogTail(n int) string {
	return TailFile(p.logPath, n)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process can take it before the caller binds it; callers that can
// retry on "address already in use" should.
//
// It picks below the kernel's ephemeral range (ip_local_port_range, 32768
// and up on Linux), which every outgoing connection and every ":0"
// listener draws from: a port picked there was taken, between the pick
// and the bind, by a connection of Dendrite or PostgreSQL (a CI failure:
// the bot's appservice listener, whose port is written into the
// registration before the homeserver starts).
func FreePort() (int, error) {
	for range 200 {
		port := lowPorts + rand.IntN(lowPortsN)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		_ = l.Close()
		return port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("failed to find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// The ports FreePort picks from: [lowPorts, lowPorts+lowPortsN), below
// Linux's default ephemeral range and above the registered ports most
// services use.
const (
	lowPorts  = 20000
	lowPortsN = 12000
)

// TailFile returns the last n lines of the file at path, or a note saying why
// it could not be read; it is meant for failure messages, so it never fails.
func TailFile(path string, n int) string {
	const maxRead = 256 << 10
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() > maxRead {
		if _, err := f.Seek(info.Size()-maxRead, io.SeekStart); err != nil {
			return fmt.Sprintf("(cannot seek %s: %v)", path, err)
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return lastLines(string(data), n)
}
