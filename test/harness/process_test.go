package harness_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// helperEnv makes the test binary act as a child process: TestMain checks it
// before running tests.
const helperEnv = "HARNESS_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "serve":
		// Like a bot: announce the port on stdout, log to stderr, exit on
		// SIGTERM.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		fmt.Fprintln(os.Stderr, "starting up")
		fmt.Printf("listening on 127.0.0.1:%s\n", os.Getenv("HELPER_PORT"))
		<-sigs
		fmt.Println("bye")
		os.Exit(0)
	case "stubborn":
		// Ignores SIGTERM, so Stop must kill it.
		// Waiting on a signal channel (not select{}) keeps the runtime from
		// ending the process as deadlocked.
		signal.Ignore(syscall.SIGTERM)
		never := make(chan os.Signal, 1)
		signal.Notify(never, syscall.SIGUSR1)
		fmt.Println("ready")
		<-never
		os.Exit(0)
	case "exit":
		fmt.Println("nothing to see")
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func startHelper(t *testing.T, mode string, env ...string) *harness.Process {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), mode+".log")
	p, err := harness.StartProcess(context.Background(), os.Args[0], []string{"-test.run=^$"},
		append([]string{helperEnv + "=" + mode}, env...), logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	return p
}

func TestProcessWaitForLineAndStop(t *testing.T) {
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p := startHelper(t, "serve", fmt.Sprintf("HELPER_PORT=%d", port))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := p.WaitForLine(ctx, regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("127.0.0.1:%d", port); m[1] != want {
		t.Errorf("address = %s; want %s", m[1], want)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.ExitErr(); err != nil {
		t.Errorf("exit after SIGTERM = %v; want a clean exit", err)
	}
	tail := p.LogTail(10)
	for _, want := range []string{"starting up", "listening on", "bye"} {
		if !strings.Contains(tail, want) {
			t.Errorf("log lacks %q:\n%s", want, tail)
		}
	}
}

func TestProcessStopKillsAfterGrace(t *testing.T) {
	p := startHelper(t, "stubborn")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := p.WaitForLine(ctx, regexp.MustCompile(`^ready$`)); err != nil {
		t.Fatal(err)
	}
	// The child ignores SIGTERM, so this waits the whole grace: 1 s, the
	// shortest real-clock timeout a test may wait for.
	if err := p.StopWithGrace(time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Stop returned while the process still runs")
	}
	if err := p.ExitErr(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("exit = %v; want killed by SIGKILL", err)
	}
}

func TestProcessWaitForLineFailsWhenTheProcessExits(t *testing.T) {
	p := startHelper(t, "exit")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := p.WaitForLine(ctx, regexp.MustCompile(`never printed`)); err == nil {
		t.Fatal("want an error once the process exited")
	}
	if got := p.StdoutLines(); len(got) != 1 || got[0] != "nothing to see" {
		t.Errorf("stdout lines = %q", got)
	}
}

func TestStartProcessRejectsBadInput(t *testing.T) {
	if _, err := harness.StartProcess(context.Background(), "", nil, nil, "x.log"); err == nil {
		t.Error("empty binary: want an error")
	}
	if _, err := harness.StartProcess(context.Background(), "/no/such/binary", nil, nil, filepath.Join(t.TempDir(), "x.log")); err == nil {
		t.Error("missing binary: want an error")
	}
}
