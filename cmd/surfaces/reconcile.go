package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/surfaces-bot/surfaces/actors/reconcile"
)

// cmdReconcile runs start-up reconciliation on its own (PRODUCT R7.3,
// R8.1): with --dry-run it prints what it would write, else it writes it
// and prints what it wrote. The bot must be stopped.
func cmdReconcile(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	fs, path := commandFlags("reconcile", stderr)
	dryRun := fs.Bool("dry-run", false, "print what reconciliation would change, change nothing")
	if !parseArgs(fs, args, stderr) {
		return exitUsage
	}
	cfg, ok := loadConfigFile(*path, env, stderr)
	if !ok {
		return exitUsage
	}
	ctx = toolContext(ctx, cfg, stderr)
	wired, err := newWiring(cfg)
	if err != nil {
		return failed(stderr, err)
	}
	// A dry run does not create a missing state directory: it plans
	// against an empty store, which is what the next start would find.
	var store stateStore
	if *dryRun {
		store, _, err = openStateIfExists(ctx, cfg)
	} else {
		store, err = openState(ctx, cfg)
	}
	if err != nil {
		return failed(stderr, err)
	}
	defer store.Close()
	mx, err := connect(ctx, cfg, store, "")
	if err != nil {
		return failed(stderr, err)
	}
	plan, err := reconcile.Run(ctx, wired.deps(store, mx), *dryRun)
	if err != nil {
		if !*dryRun {
			// What could be planned was written: say what.
			printPlan(stdout, plan, false)
		}
		return failed(stderr, err)
	}
	printPlan(stdout, plan, *dryRun)
	if err := store.Close(); err != nil {
		return failed(stderr, err)
	}
	return exitOK
}

// printPlan writes plan as plain lines for an operator: a header, one line
// per write and per room left alone, then the Report's numbers.
func printPlan(w io.Writer, p reconcile.Plan, dryRun bool) {
	// verb picks the dry run's or the applied run's wording.
	verb := func(planned, done string) string {
		if dryRun {
			return planned
		}
		return done
	}
	if dryRun {
		fmt.Fprintln(w, "Reconciliation plan (dry run: nothing was written):")
	} else {
		fmt.Fprintln(w, "Reconciliation applied:")
	}
	lines := 0
	line := func(format string, args ...any) {
		fmt.Fprintf(w, "  "+format+"\n", args...)
		lines++
	}
	for _, u := range p.PutUsers {
		what := verb("repair user record", "repaired user record")
		if p.Recovered[u.UserID] {
			what = verb("recover user", "recovered user")
		}
		line("%s %s: Space %s, entry room %s, agent %s, chat counter %d",
			what, u.UserID, orNone(u.SpaceID), orNone(u.EntryRoomID), orNone(u.AgentID), u.ChatCounter)
	}
	for _, r := range p.PutRooms {
		what := verb("repair room record", "repaired room record")
		if p.Recovered[r.RoomID] {
			what = verb("recover room", "recovered room")
		}
		archived := ""
		if r.Archived {
			archived = ", archived"
		}
		line("%s %s %q of %s: platform_chat_id %s, agent %s%s",
			what, r.RoomID, r.Name, r.OwnerID, orNone(r.PlatformChatID), orNone(r.AgentID), archived)
	}
	states := func(kind string, ids []string) {
		for _, id := range ids {
			how := "repair"
			if p.Backfill[id] {
				how = "backfill"
			}
			line("%s %s %s: %s", verb("write the state event of", "wrote the state event of"), kind, id, how)
		}
	}
	states("Space", slices.Sorted(maps.Keys(p.SpaceStates)))
	states("room", slices.Sorted(maps.Keys(p.ChatStates)))
	for _, space := range slices.Sorted(maps.Keys(p.Links)) {
		for _, id := range p.Links[space] {
			line("%s room %s in Space %s", verb("list", "listed"), id, space)
		}
	}
	if lines == 0 {
		line("nothing to recover or repair")
	}
	if p.RaiseTo > 0 {
		// Raising is a no-op where the sequence is above already.
		line("%s the platform_chat_id sequence is above %d", verb("make sure", "made sure"), p.RaiseTo)
	}
	for _, s := range p.Report.Skipped {
		line("%s room %s: %s", verb("skip", "skipped"), s.RoomID, s.Reason)
	}
	for _, s := range p.Report.ExtraSpaces {
		line("%s Space %s: %s", verb("skip", "skipped"), s.RoomID, s.Reason)
	}
	r := p.Report
	fmt.Fprintln(w, strings.Join([]string{
		"summary:",
		fmt.Sprintf("users=%d rooms=%d", r.Users, r.Rooms),
		fmt.Sprintf("recovered_users=%d recovered_rooms=%d", r.RecoveredUsers, r.RecoveredRooms),
		fmt.Sprintf("repaired_records=%d repaired_states=%d backfilled=%d relinked=%d", r.RepairedRecords, r.RepairedStates, r.Backfilled, r.Relinked),
		fmt.Sprintf("skipped=%d extra_spaces=%d", len(r.Skipped), len(r.ExtraSpaces)),
	}, " "))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
