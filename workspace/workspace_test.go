package workspace

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/surfaces-bot/surfaces/actors"
)

func TestSafeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\x\evil.exe`, "evil.exe"},
		{".hidden", "hidden"},
		{"...", "file"},
		{"", "file"},
		{"a\x00b\nc.txt", "abc.txt"},
		{"in\u202evoice\u202cfdp.exe", "invoicefdp.exe"},
		{"CON.txt", "_CON.txt"},
		{"what?*<>.png", "what____.png"},
		{"  spaced   out  .txt ", "spaced out.txt"},
		{strings.Repeat("é", 200) + ".pdf", strings.Repeat("é", 88) + ".pdf"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := SafeName(tc.in); got != tc.want {
				t.Fatalf("SafeName(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzSafeName: whatever the sender's client says, the name is one safe,
// short, valid element.
func FuzzSafeName(f *testing.F) {
	for _, s := range []string{"report.pdf", "../x", "a/b\\c", "\u202e", "CON", ".", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := SafeName(in)
		if got == "" || got == "." || got == ".." || strings.ContainsAny(got, "/\\\x00") || strings.HasPrefix(got, ".") ||
			len(got) > maxNameBytes || !utf8.ValidString(got) {
			t.Fatalf("SafeName(%q) = %q", in, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("SafeName(%q) = %q keeps %U", in, got, r)
			}
		}
	})
}

// tree makes a workspace with a file, a directory, a symlink inside and
// symlinks that lead out (to a file and to a directory).
func tree(t testing.TB) (root, outside string) {
	base := t.TempDir()
	root, outside = filepath.Join(base, "ws"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "output", "sub"), outside} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "output", "ok.txt"), []byte("ok"), 0o640)
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o640)
	os.Symlink(filepath.Join(root, "output", "ok.txt"), filepath.Join(root, "output", "inner"))
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "output", "leak"))
	os.Symlink(outside, filepath.Join(root, "output", "door"))
	os.Symlink("../../../outside/secret", filepath.Join(root, "output", "sub", "rel"))
	return root, outside
}

func TestResolve(t *testing.T) {
	root, _ := tree(t)
	tests := []struct {
		rel    string
		unsafe bool
	}{
		{"output/ok.txt", false},
		{"output/inner", false},
		{"output/leak", true},
		{"output/door/secret", true},
		{"output/sub/rel", true},
		{"../outside/secret", true},
		{"/etc/passwd", true},
		{".", true},
	}
	for _, tc := range tests {
		t.Run(tc.rel, func(t *testing.T) {
			got, err := Resolve(root, tc.rel)
			if tc.unsafe != errors.Is(err, actors.ErrUnsafePath) {
				t.Fatalf("Resolve(%q) = %q, %v; unsafe %v", tc.rel, got, err, tc.unsafe)
			}
		})
	}
}

// FuzzResolve: whatever the agent names, a resolved path is inside the
// workspace root.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"output/ok.txt", "output/leak", "output/door/secret", "../x", "/etc/passwd", "output/sub/rel", "output/../output/inner"} {
		f.Add(s)
	}
	root, _ := tree(f)
	realRoot, _ := filepath.EvalSymlinks(root)
	f.Fuzz(func(t *testing.T, rel string) {
		got, err := Resolve(root, rel)
		if err != nil {
			return
		}
		if !inside(realRoot, got) {
			t.Fatalf("Resolve(%q) = %q, outside %s", rel, got, realRoot)
		}
	})
}

func newFiles(t *testing.T, max int64) (*Files, actors.AgentRef) {
	root := t.TempDir()
	ws := filepath.Join(root, "7")
	os.MkdirAll(ws, 0o750)
	f := New(root, max)
	f.now = func() time.Time { return time.Date(2026, 11, 30, 9, 30, 0, 0, time.UTC) }
	return f, actors.AgentRef{ID: "agent-7", WorkspacePath: ws}
}

func write(data []byte) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.Copy(w, bytes.NewReader(data)); return err }
}

// Received files get the time and a safe name; a taken name gets " (1)".
func TestReceiveNamesFiles(t *testing.T) {
	f, agent := newFiles(t, 1<<20)
	ctx := context.Background()
	var paths []string
	for range 2 {
		att, err := f.Receive(ctx, agent, "../report.pdf", write([]byte("pdf")))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, att.Path)
	}
	if paths[0] != "incoming/20261130-093000-report.pdf" || paths[1] != "incoming/20261130-093000-report (1).pdf" {
		t.Fatalf("paths %q", paths)
	}
}

// Over the limit nothing is left: neither the final nor the temporary file.
func TestReceiveOverTheLimitLeavesNothing(t *testing.T) {
	f, agent := newFiles(t, 10)
	_, err := f.Receive(context.Background(), agent, "big.bin", write(bytes.Repeat([]byte("x"), 11)))
	if !errors.Is(err, actors.ErrFileTooLarge) {
		t.Fatalf("err %v, want ErrFileTooLarge", err)
	}
	entries, _ := os.ReadDir(filepath.Join(agent.WorkspacePath, "incoming"))
	if len(entries) != 0 {
		t.Fatalf("incoming/ holds %d files", len(entries))
	}
}

// Nothing is written for an agent whose workspace is outside the volume.
func TestReceiveRefusesAWorkspaceOutsideTheVolume(t *testing.T) {
	f, _ := newFiles(t, 10)
	_, err := f.Receive(context.Background(), actors.AgentRef{ID: "x", WorkspacePath: t.TempDir()}, "a", write([]byte("a")))
	if !errors.Is(err, actors.ErrUnsafePath) {
		t.Fatalf("err %v, want ErrUnsafePath", err)
	}
}
