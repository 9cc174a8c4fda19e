package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"maunium.net/go/mautrix/event"

	"github.com/surfaces-bot/surfaces/persistence/pgstore"
	"github.com/surfaces-bot/surfaces/test/harness"
)

var (
	standingBy  = harness.MemberStandingBy
	tookOver    = harness.MemberTookOver
	memberReady = harness.MemberReady
	// reconciledScope is start-up reconciliation's log line, with which
	// joined rooms it read.
	reconciledScope = regexp.MustCompile(`"scope":"([a-z_]+)".*"message":"reconciled"`)
)

// scopeRead is which joined rooms p's start-up reconciliation read.
func scopeRead(ctx context.Context, t *testing.T, p *harness.Process) string {
	t.Helper()
	m, err := p.WaitForLine(ctx, reconciledScope)
	if err != nil {
		t.Fatal(err)
	}
	return m[1]
}

// startMember starts another member of the stack's cluster, with its own
// id and HTTP port, stopped by t.Cleanup; it returns the process and its
// HTTP address.
func startMember(t *testing.T, w *world, id string) (*harness.Process, string) {
	t.Helper()
	p, addr, err := w.stack.StartMember(w.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.StopWithGrace(15 * time.Second) })
	return p, addr
}

// clusterStatus runs `surfaces cluster status` beside the members.
func clusterStatus(t *testing.T, w *world) string {
	t.Helper()
	cmd := exec.CommandContext(w.ctx, w.stack.BotBinary(), "cluster", "status")
	cmd.Env = append(cmd.Environ(), w.stack.BotEnv()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("surfaces cluster status: %v\n%s", err, out)
	}
	return string(out)
}

// statusLine is the line of status about member id, with runs of spaces
// made one.
func statusLine(status, id string) string {
	for _, l := range strings.Split(status, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == id {
			return strings.Join(f, " ")
		}
	}
	return ""
}

// TestClusterIngressTakeover: two members of a cluster on one PostgreSQL
// (issue 24). One holds the ingress and answers; the other stands by, alive
// but not ready, and a third with its id is refused. When the holder is
// killed mid-reply, the other takes the ingress over, tells the user once
// that the reply was cut, and answers from then on; nothing is answered
// twice and nothing is lost. `surfaces cluster status` shows each step.
func TestClusterIngressTakeover(t *testing.T) {
	dsn, env := postgresState(t)
	env = append(env, "SURFACES_CLUSTER_ENABLED=true", "SURFACES_CLUSTER_MEMBER_ID=member-a")
	w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"}, BotEnv: env}, "alice")
	w.onboard()
	ctx, cancel := w.wait()
	defer cancel()
	w.ask("hello", func(m harness.Message) bool { return m.FinalBody == "echo: hello" })

	b, bAddr := startMember(t, w, "member-b")
	if _, err := b.WaitForLine(ctx, standingBy); err != nil {
		t.Fatalf("member-b did not stand by: %v\n%s", err, b.LogTail(20))
	}
	if code, body := get(t, "http://"+bAddr+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "standby") {
		t.Fatalf("a standing-by member's /readyz: %d %q, want 503 standby", code, body)
	}
	if code, _ := get(t, "http://"+bAddr+"/healthz"); code != http.StatusOK {
		t.Fatalf("a standing-by member's /healthz: %d, want 200", code)
	}
	if code, body := get(t, "http://"+bAddr+"/metrics"); code != http.StatusOK || !strings.Contains(body, `surfaces_cluster_ingress{member="member-b"} 0`) {
		t.Fatalf("member-b's metrics lack its member label or ingress gauge (%d)", code)
	}
	status := clusterStatus(t, w)
	if !strings.HasPrefix(statusLine(status, "member-a"), "member-a ingress") || !strings.HasPrefix(statusLine(status, "member-b"), "member-b standby") {
		t.Fatalf("cluster status with both running:\n%s", status)
	}

	t.Run("a second member with a running member's id is refused", func(t *testing.T) {
		port, err := harness.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, w.stack.BotBinary(), "run")
		cmd.Env = append(cmd.Environ(), append(w.stack.BotEnv(), "SURFACES_CLUSTER_MEMBER_ID=member-b", fmt.Sprintf("SURFACES_HTTP_LISTEN=127.0.0.1:%d", port))...)
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		err = cmd.Run()
		if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 2 {
			t.Fatalf("a duplicate member id: %v, want exit status 2", err)
		}
		if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], `cluster.member_id "member-b" is in use by a running member`) {
			t.Fatalf("a duplicate member id said %q, want one line naming the id", stderr.String())
		}
	})

	// The holder dies mid-reply.
	if _, err := w.alice.SendText(ctx, w.chat, "/slow 40"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && m.MsgType == event.MsgText && strings.HasPrefix(m.FinalBody, "chunk 1")
	}); err != nil {
		t.Fatal(err)
	}
	turns := len(w.stack.Agent.Received())
	first := scopeRead(ctx, t, w.stack.Bot)
	killed := time.Now()
	if err := w.stack.KillBot(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WaitForLine(ctx, tookOver); err != nil {
		t.Fatalf("member-b did not take the ingress over: %v\n%s", err, b.LogTail(20))
	}
	t.Logf("member-b took the ingress %s after member-a was killed", time.Since(killed).Round(time.Millisecond))
	if _, err := b.WaitForLine(ctx, memberReady); err != nil {
		t.Fatalf("member-b did not become ready: %v\n%s", err, b.LogTail(20))
	}
	t.Logf("member-b was ready %s after member-a was killed", time.Since(killed).Round(time.Millisecond))
	// The first member read every room; the one taking over trusts the
	// records its predecessor kept and reads only rooms without one.
	if then := scopeRead(ctx, t, b); first != "all_rooms" || then != "unrecorded_rooms" {
		t.Fatalf("start-up reconciliation read %s on the first member, %s on the one taking over: want all_rooms, unrecorded_rooms", first, then)
	}
	if code, _ := get(t, "http://"+bAddr+"/readyz"); code != http.StatusOK {
		t.Fatalf("member-b holding the ingress: /readyz %d, want 200", code)
	}

	cutReplyToldOnce(t, w, turns, "are you there?")
	hellos := 0
	for _, m := range w.alice.Messages(w.chat) {
		if m.Sender == w.stack.BotID && m.FinalBody == "echo: hello" {
			hellos++
		}
	}
	if hellos != 1 {
		t.Fatalf("%d answers to hello, want 1", hellos)
	}

	status = clusterStatus(t, w)
	if !strings.HasPrefix(statusLine(status, "member-a"), "member-a gone") || !strings.HasPrefix(statusLine(status, "member-b"), "member-b ingress") {
		t.Fatalf("cluster status after the takeover:\n%s", status)
	}

	// member-a comes back under its own id, and stands by.
	a, _ := startMember(t, w, "member-a")
	if _, err := a.WaitForLine(ctx, standingBy); err != nil {
		t.Fatalf("member-a did not stand by when it came back: %v\n%s", err, a.LogTail(20))
	}
	w.ask("still you?", func(m harness.Message) bool { return m.FinalBody == "echo: still you?" })

	// member-b loses its database session (its locks go with it) without
	// dying: it stops at once, and member-a takes the ingress over.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM (`+pgstore.MemberSessionsQuery()+`) s`, "member-b"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Done():
	case <-ctx.Done():
		t.Fatal("member-b kept running after it lost the session holding the ingress")
	}
	if exit, ok := b.ExitErr().(*exec.ExitError); !ok || exit.ExitCode() != 1 {
		t.Fatalf("member-b ended with %v, want exit status 1", b.ExitErr())
	}
	if _, err := a.WaitForLine(ctx, tookOver); err != nil {
		t.Fatalf("member-a did not take the ingress over: %v\n%s", err, a.LogTail(20))
	}
	if _, err := a.WaitForLine(ctx, memberReady); err != nil {
		t.Fatalf("member-a did not become ready: %v\n%s", err, a.LogTail(20))
	}
	w.ask("and now?", func(m harness.Message) bool { return m.FinalBody == "echo: and now?" })

	// A graceful stop hands over: member-a, stopped mid-reply, finishes the
	// reply within shutdown.grace, then leaves; member-c takes over, and
	// nobody is told of a cut reply.
	c, _ := startMember(t, w, "member-c")
	if _, err := c.WaitForLine(ctx, standingBy); err != nil {
		t.Fatalf("member-c did not stand by: %v\n%s", err, c.LogTail(20))
	}
	slow, err := w.alice.SendText(ctx, w.chat, "/slow 8")
	if err != nil {
		t.Fatal(err)
	}
	// This reply's messages, not the one cut by the kill above.
	if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && afterEvent(w, w.chat, slow, m) && m.MsgType == event.MsgText && strings.HasPrefix(m.FinalBody, "chunk 1")
	}); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- a.StopWithGrace(30 * time.Second) }()
	if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && afterEvent(w, w.chat, slow, m) && strings.HasSuffix(strings.TrimSpace(m.FinalBody), "chunk 8")
	}); err != nil {
		t.Fatalf("the reply running when member-a was stopped did not finish: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if a.ExitErr() != nil {
		t.Fatalf("member-a, stopped, ended with %v, want exit status 0", a.ExitErr())
	}
	if _, err := c.WaitForLine(ctx, tookOver); err != nil {
		t.Fatalf("member-c did not take the ingress over: %v\n%s", err, c.LogTail(20))
	}
	w.ask("handed over?", func(m harness.Message) bool { return m.FinalBody == "echo: handed over?" })
	if notices := cutReplyNotices(w); notices != 1 {
		t.Fatalf("%d notices of a cut reply after the graceful handover, want still the 1 of the kill", notices)
	}
	status = clusterStatus(t, w)
	if statusLine(status, "member-a") != "" || !strings.HasPrefix(statusLine(status, "member-c"), "member-c ingress") {
		t.Fatalf("cluster status after member-a left:\n%s", status)
	}
}

// get fetches url and returns its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
