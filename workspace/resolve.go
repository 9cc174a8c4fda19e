package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/surfaces-bot/surfaces/actors"
)

// Resolve returns the file rel names inside the workspace root, with every
// symlink resolved, or an error wrapping actors.ErrUnsafePath when it
// resolves outside root (.., an absolute path, a symlink pointing out) or
// names root itself. rel is relative to root (as the agents' paths are,
// once normalised). The file must exist.
func Resolve(root, rel string) (string, error) {
	if rel == "" || filepath.IsAbs(rel) || strings.ContainsRune(rel, 0) {
		return "", fmt.Errorf("failed to resolve %q: %w", rel, actors.ErrUnsafePath)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("failed to resolve the workspace %s: %w", root, err)
	}
	joined := filepath.Join(realRoot, filepath.FromSlash(rel))
	if !inside(realRoot, joined) {
		return "", fmt.Errorf("failed to resolve %q: %w", rel, actors.ErrUnsafePath)
	}
	real, err := filepath.EvalSymlinks(joined)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("failed to resolve %q: %w", rel, err)
	}
	if err != nil {
		return "", fmt.Errorf("failed to resolve %q: %w", rel, err)
	}
	if !inside(realRoot, real) {
		return "", fmt.Errorf("failed to resolve %q: it leads outside the workspace: %w", rel, actors.ErrUnsafePath)
	}
	return real, nil
}

// inside reports whether p is strictly inside root (both clean, absolute).
func inside(root, p string) bool {
	r, err := filepath.Rel(root, p)
	return err == nil && r != "." && r != ".." && !strings.HasPrefix(r, ".."+string(os.PathSeparator)) && !filepath.IsAbs(r)
}
