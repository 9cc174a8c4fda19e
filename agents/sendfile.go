package agents

import (
	"fmt"
	"path"
	"strings"
)

// agentWorkspace is where every agent sees its own workspace.
const agentWorkspace = "/workspace"

// NormalizeSendFilePath turns the path of an AGENT_EVENT_SEND_FILE into a
// clean path relative to the agent's workspace (docs/agent-protocol.md). It
// accepts the three forms agents use:
//
//   - relative to the workspace: "output/report.pdf";
//   - absolute inside the agent: "/workspace/output/report.pdf";
//   - absolute on the bot's side: "{workspacePath}/output/report.pdf".
//
// Anything that leaves the workspace lexically ("..", another absolute
// path) or names the workspace itself is an error wrapping ErrUnsafePath.
// The check is lexical only: resolving symlinks on disk is the caller's job
// when it opens the file.
func NormalizeSendFilePath(p, workspacePath string) (string, error) {
	if strings.TrimSpace(p) == "" {
		return "", fmt.Errorf("failed to normalise file path: %w: empty path", ErrUnsafePath)
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("failed to normalise file path %q: %w: NUL byte", p, ErrUnsafePath)
	}
	clean := path.Clean(p)
	rel := clean
	if path.IsAbs(clean) {
		var ok bool
		if rel, ok = under(clean, agentWorkspace); !ok {
			if rel, ok = under(clean, workspacePath); !ok {
				return "", fmt.Errorf("failed to normalise file path %q: %w: absolute path elsewhere", p, ErrUnsafePath)
			}
		}
	}
	if rel == "." || rel == "" {
		return "", fmt.Errorf("failed to normalise file path %q: %w: names the workspace itself", p, ErrUnsafePath)
	}
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("failed to normalise file path %q: %w: escapes with ..", p, ErrUnsafePath)
	}
	return rel, nil
}

// under reports whether the clean absolute path p lies inside root and
// returns it relative to root ("." for root itself).
func under(p, root string) (string, bool) {
	if root == "" || !path.IsAbs(root) {
		return "", false
	}
	root = path.Clean(root)
	if p == root {
		return ".", true
	}
	if root == "/" {
		return strings.TrimPrefix(p, "/"), true
	}
	if strings.HasPrefix(p, root+"/") {
		return p[len(root)+1:], true
	}
	return "", false
}
