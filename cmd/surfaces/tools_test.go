package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/reconcile"
	"github.com/surfaces-bot/surfaces/persistence"
)

// stateEnv is testEnv with a state directory holding one user and two
// rooms; it returns the directory too.
func stateEnv(t *testing.T) ([]string, string) {
	t.Helper()
	env := testEnv(t, goodRegistry)
	dir := envValue(env, "SURFACES_STATE_PATH")
	ctx := context.Background()
	store, err := persistence.Open(ctx, dir, persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutUser(ctx, actors.UserRecord{UserID: "@alice:hs.test", SpaceID: "!space:hs.test"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"!c1:hs.test", "!c2:hs.test"} {
		if err := store.PutRoom(ctx, actors.RoomRecord{RoomID: id, OwnerID: "@alice:hs.test", PlatformChatID: "1"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	return env, dir
}

func envValue(env []string, name string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, name+"="); ok {
			return v
		}
	}
	return ""
}

// wantUsers checks that the state directory still holds its one user.
func wantUsers(t *testing.T, dir string, n int) {
	t.Helper()
	store, err := persistence.Open(context.Background(), dir, persistence.Options{})
	if err != nil {
		t.Fatalf("the state directory does not open: %v", err)
	}
	defer store.Close()
	users, err := store.ListUsers(context.Background())
	if err != nil || len(users) != n {
		t.Fatalf("the state holds users %v (%v), want %d", users, err, n)
	}
}

func TestResetRefusesAMissingOrUnknownMode(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no mode", []string{"reset", "--yes"}, "--mode is required"},
		{"empty mode", []string{"reset", "--mode=", "--yes"}, "--mode is required"},
		{"unknown mode", []string{"reset", "--mode", "everything", "--yes"}, `unknown --mode "everything"`},
		{"argument left over", []string{"reset", "--mode", "local-only", "--yes", "now"}, `unexpected argument "now"`},
		{"unknown flag", []string{"reset", "--mode", "local-only", "--force"}, "-force"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, dir := stateEnv(t)
			code, stdout, stderr := runCLI(t, env, tc.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tc.want) || !strings.Contains(strings.ToLower(stderr), "usage") {
				t.Fatalf("stderr %q does not say %q with the usage", stderr, tc.want)
			}
			if stdout != "" {
				t.Fatalf("stdout %q, want nothing", stdout)
			}
			wantUsers(t, dir, 1)
		})
	}
}

// local-only: the dry run and a run without --yes delete nothing and say
// what would go; --yes deletes the directory.
func TestResetLocalOnly(t *testing.T) {
	env, dir := stateEnv(t)
	wouldDelete := "would delete " + dir + " (1 user, 2 rooms)\n"

	code, stdout, stderr := runCLI(t, env, "reset", "--mode", "local-only", "--dry-run")
	if code != exitOK || !strings.Contains(stdout, wouldDelete) || !strings.Contains(stdout, "dry run: nothing was changed") {
		t.Fatalf("dry run: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	wantUsers(t, dir, 1)

	code, stdout, stderr = runCLI(t, env, "reset", "--mode", "local-only")
	if code != exitUsage || !strings.Contains(stdout, wouldDelete) || !strings.Contains(stderr, "add --yes") {
		t.Fatalf("without --yes: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	wantUsers(t, dir, 1)

	code, stdout, stderr = runCLI(t, env, "reset", "-mode=local-only", "-yes")
	if code != exitOK || stdout != "deleted "+dir+" (1 user, 2 rooms)\n" {
		t.Fatalf("with --yes: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the state directory is still there: %v", err)
	}

	// Nothing left: nothing to confirm, and the directory is not made again.
	for _, args := range [][]string{{"--dry-run"}, {}, {"--yes"}} {
		code, stdout, stderr = runCLI(t, env, append([]string{"reset", "--mode", "local-only"}, args...)...)
		if code != exitOK || !strings.Contains(stdout, dir+" does not exist: nothing to delete") {
			t.Fatalf("%v on a missing directory: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("%v made the state directory: %v", args, err)
		}
	}
}

// While the bot holds the state directory the tools say so in one line and
// touch nothing.
func TestToolsRefuseWhileTheBotRuns(t *testing.T) {
	env, dir := stateEnv(t)
	held, err := persistence.Open(context.Background(), dir, persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"reconcile"},
		{"reconcile", "--dry-run"},
		{"reset", "--mode", "local-only", "--yes"},
		{"reset", "--mode", "server-leave-forget", "--dry-run"},
	} {
		code, _, stderr := runCLI(t, env, args...)
		line := strings.TrimSpace(stderr)
		if code != exitFailed || strings.Contains(line, "\n") || !strings.Contains(line, "in use: stop the bot first") {
			t.Fatalf("%v: exit %d, want %d and one line saying to stop the bot; stderr:\n%s", args, code, exitFailed, stderr)
		}
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	wantUsers(t, dir, 1)
}

// A state path that holds something else is never deleted.
func TestResetRefusesAForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(dir, "precious.txt")
	if err := os.WriteFile(precious, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := testEnv(t, goodRegistry, "SURFACES_STATE_PATH="+dir)
	code, _, stderr := runCLI(t, env, "reset", "--mode", "local-only", "--yes")
	if code != exitUsage || !strings.Contains(stderr, "not touching it") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(precious); err != nil {
		t.Fatalf("the file in the state path is gone: %v", err)
	}
}

// The plan's lines: what an operator reads from `surfaces reconcile`.
func TestPrintPlan(t *testing.T) {
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	plan := reconcile.Plan{
		PutUsers: []actors.UserRecord{
			{UserID: "@alice:hs.test", SpaceID: "!sa:hs.test", EntryRoomID: "!dm:hs.test", AgentID: "agent-0", ChatCounter: 2, UpdatedAt: now},
			{UserID: "@bob:hs.test", SpaceID: "!sb:hs.test", ChatCounter: 1, UpdatedAt: now},
		},
		PutRooms: []actors.RoomRecord{
			{RoomID: "!c1:hs.test", OwnerID: "@alice:hs.test", Name: "Chat 1", PlatformChatID: "7", AgentID: "agent-0"},
			{RoomID: "!c2:hs.test", OwnerID: "@bob:hs.test", Name: "Chat 2", PlatformChatID: "9", AgentID: "agent-1", Archived: true},
		},
		ChatStates:  map[string]actors.ChatState{"!c3:hs.test": {}, "!c4:hs.test": {}},
		SpaceStates: map[string]actors.SpaceState{"!sb:hs.test": {}},
		Links:       map[string][]string{"!sa:hs.test": {"!c5:hs.test"}},
		RaiseTo:     9,
		Recovered:   map[string]bool{"@alice:hs.test": true, "!c1:hs.test": true},
		Backfill:    map[string]bool{"!c3:hs.test": true},
		Report: reconcile.Report{
			Users: 2, Rooms: 9, RecoveredUsers: 1, RecoveredRooms: 1, RepairedRecords: 2, RepairedStates: 2, Backfilled: 1, Relinked: 1,
			Skipped:     []reconcile.Skip{{RoomID: "!x:hs.test", Reason: reconcile.SkipForeign}},
			ExtraSpaces: []reconcile.Skip{{RoomID: "!s2:hs.test", Reason: reconcile.SkipExtraSpace}},
		},
	}
	var out bytes.Buffer
	printPlan(&out, plan, true)
	want := `Reconciliation plan (dry run: nothing was written):
  recover user @alice:hs.test: Space !sa:hs.test, entry room !dm:hs.test, agent agent-0, chat counter 2
  repair user record @bob:hs.test: Space !sb:hs.test, entry room (none), agent (none), chat counter 1
  recover room !c1:hs.test "Chat 1" of @alice:hs.test: platform_chat_id 7, agent agent-0
  repair room record !c2:hs.test "Chat 2" of @bob:hs.test: platform_chat_id 9, agent agent-1, archived
  write the state event of Space !sb:hs.test: repair
  write the state event of room !c3:hs.test: backfill
  write the state event of room !c4:hs.test: repair
  list room !c5:hs.test in Space !sa:hs.test
  make sure the platform_chat_id sequence is above 9
  skip room !x:hs.test: ` + reconcile.SkipForeign + `
  skip Space !s2:hs.test: ` + reconcile.SkipExtraSpace + `
summary: users=2 rooms=9 recovered_users=1 recovered_rooms=1 repaired_records=2 repaired_states=2 backfilled=1 relinked=1 skipped=1 extra_spaces=1
`
	if out.String() != want {
		t.Fatalf("dry run printed\n%s\nwant\n%s", out.String(), want)
	}

	out.Reset()
	printPlan(&out, plan, false)
	applied := out.String()
	for _, line := range []string{"Reconciliation applied:\n", "  recovered user @alice:hs.test:", "  repaired room record !c2:hs.test",
		"  wrote the state event of room !c3:hs.test: backfill", "  listed room !c5", "  made sure the platform_chat_id sequence is above 9",
		"  skipped room !x:hs.test"} {
		if !strings.Contains(applied, line) {
			t.Fatalf("applied run printed\n%s\nwithout %q", applied, line)
		}
	}

	out.Reset()
	printPlan(&out, reconcile.Plan{Report: reconcile.Report{Users: 1, Rooms: 3}}, true)
	if want := `Reconciliation plan (dry run: nothing was written):
  nothing to recover or repair
summary: users=1 rooms=3 recovered_users=0 recovered_rooms=0 repaired_records=0 repaired_states=0 backfilled=0 relinked=0 skipped=0 extra_spaces=0
`; out.String() != want {
		t.Fatalf("an empty plan printed\n%s\nwant\n%s", out.String(), want)
	}
}
