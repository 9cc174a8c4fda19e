package agents

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

const watchRegistryA = `user_agents:
  "@alice:hs.test": agent-0
agents:
  - {id: agent-0, base_url: "http://127.0.0.1:7000/agent_0/", workspace_path: /agents/0}
  - {id: agent-1, base_url: "http://127.0.0.1:7000/agent_1/", workspace_path: /agents/1}
`

// syncBuffer is a log sink safe for the watcher's goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// replaceFile writes content the way many editors do: a new file renamed
// over the old one.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestWatchAppliesEditsAndKeepsTheRegistryOnABrokenOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "matrix-agents.yaml")
		if err := os.WriteFile(path, []byte(watchRegistryA), 0o600); err != nil {
			t.Fatal(err)
		}
		reg, err := LoadRegistryFile(path, PolicyDefault)
		if err != nil {
			t.Fatal(err)
		}
		// A valid edit, written by rename the way editors do, applies within
		// one interval, even when made before the watcher first looks.
		replaceFile(t, path, strings.Replace(watchRegistryA, `"@alice:hs.test": agent-0`, `"@alice:hs.test": agent-1`, 1))
		logs := &syncBuffer{}
		ctx, cancel := context.WithCancel(zerolog.New(logs).WithContext(context.Background()))
		done := make(chan struct{})
		go func() {
			defer close(done)
			reg.Watch(ctx, time.Second)
		}()
		defer func() {
			cancel()
			<-done // in the bubble: Watch returns at once, or the bubble reports a deadlock
		}()
		agentOf := func() string {
			a, _, err := reg.AgentFor("@alice:hs.test")
			if err != nil {
				t.Fatal(err)
			}
			return a.ID
		}

		time.Sleep(time.Second)
		synctest.Wait()
		if got := agentOf(); got != "agent-1" {
			t.Fatalf("after the edit alice is on %s, want agent-1", got)
		}

		// A broken edit (a mapping to a missing agent) changes nothing and is
		// logged once, however long it stays.
		replaceFile(t, path, strings.Replace(watchRegistryA, `"@alice:hs.test": agent-0`, `"@alice:hs.test": agent-9`, 1))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := agentOf(); got != "agent-1" {
			t.Fatalf("after a broken edit alice is on %s, want agent-1 kept", got)
		}
		if n := strings.Count(logs.String(), "registry edit rejected"); n != 1 {
			t.Fatalf("%d rejection log lines, want 1:\n%s", n, logs.String())
		}
		if !strings.Contains(logs.String(), "agent-9") {
			t.Fatalf("the log does not say what is wrong:\n%s", logs.String())
		}

		// A missing file keeps the registry; the next valid edit applies.
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		replaceFile(t, path, watchRegistryA)
		time.Sleep(time.Second)
		synctest.Wait()
		if got := agentOf(); got != "agent-0" {
			t.Fatalf("after the file came back alice is on %s, want agent-0", got)
		}
	})
}
