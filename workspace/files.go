package workspace

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // image sizes of GIFs sent to users
	_ "image/jpeg" // and of JPEGs
	_ "image/png"  // and of PNGs
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
)

// Files is the shared volume (workspace.dir) with its size limit.
type Files struct {
	root string
	max  int64
	now  func() time.Time
}

var _ actors.Files = (*Files)(nil)

// New returns the Files of the volume at root, refusing files over max bytes.
func New(root string, max int64) *Files {
	return &Files{root: filepath.Clean(root), max: max, now: time.Now}
}

// MaxSize is the size limit in bytes.
func (f *Files) MaxSize() int64 { return f.max }

// workspace returns agent's workspace on the bot's side, refusing one that
// is not inside the shared volume: nothing is ever written elsewhere.
func (f *Files) workspace(agent actors.AgentRef) (string, error) {
	ws := filepath.Clean(agent.WorkspacePath)
	if agent.WorkspacePath == "" || !inside(f.root, ws) {
		return "", fmt.Errorf("agent %s's workspace %q is not inside the shared volume %s: %w", agent.ID, agent.WorkspacePath, f.root, actors.ErrUnsafePath)
	}
	return ws, nil
}

// incomingDir makes {workspace}/incoming if needed and checks that it is a
// directory inside the workspace (not a symlink leading out).
func (f *Files) incomingDir(agent actors.AgentRef) (string, error) {
	ws, err := f.workspace(agent)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(ws, "incoming")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("failed to make %s: %w", dir, err)
	}
	realWS, err := filepath.EvalSymlinks(ws)
	if err != nil {
		return "", fmt.Errorf("failed to resolve %s: %w", ws, err)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("failed to resolve %s: %w", dir, err)
	}
	if realDir != filepath.Join(realWS, "incoming") {
		return "", fmt.Errorf("%s leads outside the workspace: %w", dir, actors.ErrUnsafePath)
	}
	return realDir, nil
}

// Receive implements actors.Files: fill's bytes go to a temporary file in
// incoming/, which gets its final name only when complete. Over the limit,
// or on any error, nothing is left behind.
func (f *Files) Receive(ctx context.Context, agent actors.AgentRef, name string, fill func(io.Writer) error) (actors.Attachment, error) {
	dir, err := f.incomingDir(agent)
	if err != nil {
		return actors.Attachment{}, err
	}
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return actors.Attachment{}, fmt.Errorf("failed to create a file in %s: %w", dir, err)
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := &limitWriter{ctx: ctx, w: tmp, left: f.max}
	if err := fill(w); err != nil {
		return actors.Attachment{}, err
	}
	if err := tmp.Sync(); err != nil {
		return actors.Attachment{}, fmt.Errorf("failed to write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return actors.Attachment{}, fmt.Errorf("failed to write %s: %w", tmp.Name(), err)
	}
	safe := SafeName(name)
	now := f.now().UTC()
	final, err := place(tmp.Name(), dir, now.Format("20060102-150405")+"-"+safe)
	if err != nil {
		return actors.Attachment{}, err
	}
	keep = true
	return actors.Attachment{
		Path: "incoming/" + final, Name: safe, Size: f.max - w.left,
		MIME: mime.TypeByExtension(filepath.Ext(safe)), StagedAt: now,
	}, nil
}

// place gives the complete file tmp its name in dir: base, or "stem (n).ext"
// when that is taken. A hard link never replaces an existing file.
func place(tmp, dir, base string) (string, error) {
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	for n := 0; n < 1000; n++ {
		name := base
		if n > 0 {
			name = fmt.Sprintf("%s (%d)%s", stem, n, ext)
		}
		err := os.Link(tmp, filepath.Join(dir, name))
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("failed to name %s: %w", name, err)
		}
		os.Remove(tmp)
		return name, nil
	}
	return "", fmt.Errorf("failed to name %s: every numbered name is taken", base)
}

// Remove implements actors.Files: only files in incoming/ are removed.
func (f *Files) Remove(_ context.Context, agent actors.AgentRef, rel string) error {
	ws, err := f.workspace(agent)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(path.Clean(rel), "incoming/") {
		return fmt.Errorf("failed to remove %q: not a received file: %w", rel, actors.ErrUnsafePath)
	}
	real, err := Resolve(ws, rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // already gone
	}
	if err != nil {
		return err
	}
	if err := os.Remove(real); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("failed to remove %s: %w", real, err)
	}
	return nil
}

// Open implements actors.Files.
func (f *Files) Open(_ context.Context, agent actors.AgentRef, rel string) (actors.OutgoingFile, error) {
	ws, err := f.workspace(agent)
	if err != nil {
		return actors.OutgoingFile{}, err
	}
	real, err := Resolve(ws, rel)
	if err != nil {
		return actors.OutgoingFile{}, err
	}
	file, err := os.Open(real)
	if err != nil {
		return actors.OutgoingFile{}, fmt.Errorf("failed to open %s: %w", rel, err)
	}
	info, err := file.Stat()
	if err != nil || !info.Mode().IsRegular() {
		file.Close()
		return actors.OutgoingFile{}, fmt.Errorf("failed to open %s: not a regular file", rel)
	}
	if info.Size() > f.max {
		file.Close()
		return actors.OutgoingFile{}, fmt.Errorf("failed to send %s (%d bytes): %w", rel, info.Size(), actors.ErrFileTooLarge)
	}
	out := actors.OutgoingFile{Name: SafeName(path.Base(rel)), Size: info.Size()}
	br := bufio.NewReaderSize(file, 512)
	head, _ := br.Peek(512)
	out.MIME = sniff(head, out.Name)
	if strings.HasPrefix(out.MIME, "image/") {
		if cfg, _, err := image.DecodeConfig(io.NewSectionReader(file, 0, info.Size())); err == nil {
			out.Width, out.Height = cfg.Width, cfg.Height
		}
	}
	out.Content = readCloser{Reader: io.LimitReader(br, info.Size()), Closer: file}
	return out, nil
}

// sniff picks the MIME type from the content, falling back to the
// extension where the content says only "some bytes" or "some text".
func sniff(head []byte, name string) string {
	t := http.DetectContentType(head)
	if t == "application/octet-stream" || strings.HasPrefix(t, "text/plain") {
		if byExt := mime.TypeByExtension(filepath.Ext(name)); byExt != "" {
			return byExt
		}
	}
	return t
}

type readCloser struct {
	io.Reader
	io.Closer
}

// limitWriter fails with ErrFileTooLarge past left bytes, and when ctx ends.
type limitWriter struct {
	ctx  context.Context
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if err := l.ctx.Err(); err != nil {
		return 0, err
	}
	if int64(len(p)) > l.left {
		return 0, fmt.Errorf("failed to receive the file: over the limit: %w", actors.ErrFileTooLarge)
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	return n, err
}
