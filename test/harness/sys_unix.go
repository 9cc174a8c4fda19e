//go:build unix

package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// lockFile takes an exclusive flock on path, waiting for other processes that
// hold it; the returned func releases it. flock is released by the kernel when
// a holder dies, so a crashed test never leaves a stale lock behind.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("failed to open the lock file %s: %w", path, err)
	}
	// flock blocks without a context, so it runs in a goroutine; if the caller
	// gives up first, the goroutine closes the file, which releases the lock
	// as soon as it is acquired.
	type result struct{ err error }
	got := make(chan result) // unbuffered: a send succeeds only if someone still waits
	abandoned := make(chan struct{})
	go func() {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		select {
		case got <- result{err}:
		case <-abandoned:
			f.Close()
		}
	}()
	select {
	case r := <-got:
		if r.err != nil {
			f.Close()
			return nil, fmt.Errorf("failed to lock %s: %w", path, r.err)
		}
		return func() {
			_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			f.Close()
		}, nil
	case <-ctx.Done():
		close(abandoned)
		return nil, fmt.Errorf("failed to lock %s: %w", path, ctx.Err())
	}
}

// startInOwnGroup puts the child in a new process group so that Stop can kill
// the grandchildren it started too, and nothing else.
func startInOwnGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// terminate asks the child's process group to exit.
func terminate(p *os.Process) error {
	return signalGroup(p, syscall.SIGTERM)
}

// kill ends the child's process group without a chance to clean up.
func kill(p *os.Process) error {
	return signalGroup(p, syscall.SIGKILL)
}

func signalGroup(p *os.Process, sig syscall.Signal) error {
	// The group id is the child's pid because of Setpgid; a negative pid
	// addresses the whole group.
	if err := syscall.Kill(-p.Pid, sig); err != nil {
		// The group may be gone already while the leader is a zombie waiting
		// for Wait; signalling the leader alone is the right fallback.
		return p.Signal(sig)
	}
	return nil
}
