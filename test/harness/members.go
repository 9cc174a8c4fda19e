package harness

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
)

// The lines a member of the bot's cluster logs as it changes role.
var (
	// MemberStandingBy: it joined and waits for the ingress.
	MemberStandingBy = regexp.MustCompile(`"message":"standing by: another member holds the ingress"`)
	// MemberTookOver: it took the ingress over from a member that left.
	MemberTookOver = regexp.MustCompile(`"message":"took the ingress over"`)
	// MemberReady: it serves (synced and reconciled).
	MemberReady = regexp.MustCompile(`"message":"ready: synced and reconciled"`)
)

// StartMember starts another member of the bot's cluster (the bot's
// settings must make it one) under member id, with an HTTP listener of its
// own; it returns the process, which the caller stops, and the listener's
// address. Its log is kept with the bot's (BotLogs). ctx bounds the
// process's life.
func (s *Stack) StartMember(ctx context.Context, id string) (*Process, string, error) {
	port, err := FreePort()
	if err != nil {
		return nil, "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	env := append(s.BotEnv(), "SURFACES_CLUSTER_MEMBER_ID="+id, "SURFACES_HTTP_LISTEN="+addr)
	logPath := filepath.Join(s.dir, "surfaces-"+id+".log")
	p, err := StartProcess(ctx, s.botBin, []string{"run"}, env, logPath)
	if err != nil {
		return nil, "", fmt.Errorf("failed to start member %s: %w", id, err)
	}
	s.BotLogs = append(s.BotLogs, logPath) // shown if a test fails
	return p, addr, nil
}
