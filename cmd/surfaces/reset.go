package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/config"
	"github.com/surfaces-bot/surfaces/matrix"
)

// The modes of `surfaces reset` (PRODUCT R7.4).
const (
	// resetLocalOnly deletes the state directory. The rooms stay on the
	// homeserver, and the next start recovers their records from the state
	// events the bot keeps there (PRODUCT R11).
	resetLocalOnly = "local-only"
	// resetServerLeaveForget makes the bot leave and forget every room it
	// is in, then deletes the state directory: a clean slate for
	// development. The users keep the rooms; the bot is gone from them.
	resetServerLeaveForget = "server-leave-forget"
)

// cmdReset is `surfaces reset`. Without --dry-run it needs --yes: it is
// destructive, and the bot must be stopped.
func cmdReset(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	fs, path := commandFlags("reset", stderr)
	mode := fs.String("mode", "", "what to reset: "+resetLocalOnly+" or "+resetServerLeaveForget)
	dryRun := fs.Bool("dry-run", false, "print what would be deleted or left, change nothing")
	yes := fs.Bool("yes", false, "really do it (it cannot be undone)")
	if !parseArgs(fs, args, stderr) {
		return exitUsage
	}
	if *mode != resetLocalOnly && *mode != resetServerLeaveForget {
		if *mode == "" {
			fmt.Fprintf(stderr, "surfaces reset: --mode is required: %s or %s\n", resetLocalOnly, resetServerLeaveForget)
		} else {
			fmt.Fprintf(stderr, "surfaces reset: unknown --mode %q: want %s or %s\n", *mode, resetLocalOnly, resetServerLeaveForget)
		}
		usage(stderr)
		return exitUsage
	}
	cfg, ok := loadConfigFile(*path, env, stderr)
	if !ok {
		return exitUsage
	}
	ctx = toolContext(ctx, cfg, stderr)
	r := &resetter{dir: cfg.State.Path, out: stdout, errOut: stderr, postgres: cfg.Persistence.Backend == config.BackendPostgres}
	if err := r.checkDir(); err != nil {
		return failed(stderr, err)
	}
	store, absent, err := openStateIfExists(ctx, cfg)
	if err != nil {
		return failed(stderr, err)
	}
	r.store, r.absent = store, absent
	defer store.Close()
	if err := r.count(ctx); err != nil {
		return failed(stderr, err)
	}
	var rooms []resetRoom
	if *mode == resetServerLeaveForget {
		if r.mx, err = connect(ctx, cfg, store, ""); err != nil {
			return failed(stderr, err)
		}
		if rooms, err = r.joinedRooms(ctx); err != nil {
			return failed(stderr, err)
		}
	}

	if *dryRun || !*yes {
		r.describe(*mode, rooms)
		if *dryRun {
			fmt.Fprintln(stdout, "dry run: nothing was changed")
			return exitOK
		}
		if len(rooms) == 0 && r.absent {
			return exitOK // nothing to do, nothing to confirm
		}
		fmt.Fprintln(stderr, "surfaces reset: this cannot be undone: add --yes to do it (or --dry-run to only look)")
		return exitUsage
	}
	if *mode == resetServerLeaveForget {
		if err := r.leaveAll(ctx, rooms); err != nil {
			return failed(stderr, err)
		}
	}
	if err := r.deleteState(ctx); err != nil {
		return failed(stderr, err)
	}
	return exitOK
}

// resetter holds what one reset works on.
type resetter struct {
	dir         string
	out, errOut io.Writer
	store       stateStore
	absent      bool // dir does not exist (store is an empty one in memory)
	// postgres: the records are in PostgreSQL; the directory holds only
	// the encryption keys.
	postgres bool
	mx       *matrix.Client
	// users and rooms count the records in the state directory.
	users, rooms int
}

// resetRoom is a room the bot is joined to, and what it is to the bot.
type resetRoom struct {
	id, what string
}

// checkDir refuses a state path that is not a state directory: reset must
// never delete a directory it was pointed at by mistake. An empty directory
// or one holding a Badger database (its MANIFEST) is one.
func (r *resetter) checkDir() error {
	fi, err := os.Stat(r.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to read the state directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: state.path %s is not a directory; not touching it", errConfig, r.dir)
	}
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return fmt.Errorf("failed to read the state directory: %w", err)
	}
	if r.postgres && !slices.ContainsFunc(entries, func(e os.DirEntry) bool { return !strings.HasPrefix(e.Name(), cryptoFile) }) {
		return nil // only the crypto store (and its journal files)
	}
	if len(entries) > 0 && !slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() == "MANIFEST" }) {
		return fmt.Errorf("%w: state.path %s does not hold a Surfaces state (no Badger MANIFEST); not touching it", errConfig, r.dir)
	}
	return nil
}

// count reads how many user and room records the state holds.
func (r *resetter) count(ctx context.Context) error {
	users, err := r.store.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("failed to read the state: %w", err)
	}
	r.users = len(users)
	for _, u := range users {
		rooms, err := r.store.ListRooms(ctx, u.UserID)
		if err != nil {
			return fmt.Errorf("failed to read the state: %w", err)
		}
		r.rooms += len(rooms)
	}
	return nil
}

// joinedRooms lists the rooms the bot is joined to and says what each is,
// from the bot's state events: a Space, a chat, a user's direct chat with
// the bot, or another room.
func (r *resetter) joinedRooms(ctx context.Context) ([]resetRoom, error) {
	ids, err := r.mx.JoinedRooms(ctx)
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	states := make(map[string]actors.RoomState, len(ids))
	entries := map[string]string{} // direct chat → its user
	for _, id := range ids {
		st, err := r.mx.RoomState(ctx, id)
		if err != nil {
			// Still left: what it is only matters to the listing.
			fmt.Fprintln(r.errOut, "surfaces:", err)
			continue
		}
		states[id] = st
		if st.Space != nil && st.Space.EntryRoomID != "" {
			entries[st.Space.EntryRoomID] = st.Space.Owner
		}
	}
	rooms := make([]resetRoom, 0, len(ids))
	for _, id := range ids {
		st, read := states[id]
		var what string
		switch {
		case !read:
			what = "room whose state could not be read"
		case st.Space != nil:
			what = "Space of " + st.Space.Owner
		case st.Chat != nil:
			what = fmt.Sprintf("chat %q of %s (platform_chat_id %s)", st.Chat.Name, st.Chat.Owner, st.Chat.PlatformChatID)
		case entries[id] != "":
			what = "direct chat of " + entries[id]
		default:
			var members []string
			for user, m := range st.Members {
				if m == "join" && user != r.mx.UserID() {
					members = append(members, user)
				}
			}
			slices.Sort(members)
			what = "other room (members: " + orNone(strings.Join(members, ", ")) + ")"
		}
		rooms = append(rooms, resetRoom{id: id, what: what})
	}
	return rooms, nil
}

// describe prints what the reset would do.
func (r *resetter) describe(mode string, rooms []resetRoom) {
	if mode == resetServerLeaveForget {
		fmt.Fprintf(r.out, "would leave and forget %s:\n", plural(len(rooms), "room"))
		for _, room := range rooms {
			fmt.Fprintf(r.out, "  %s: %s\n", room.id, room.what)
		}
	}
	switch {
	case r.postgres:
		fmt.Fprintf(r.out, "would delete every record in PostgreSQL (%s, %s) and the state directory %s\n",
			plural(r.users, "user"), plural(r.rooms, "room"), r.dir)
	case r.absent:
		fmt.Fprintf(r.out, "state directory %s does not exist: nothing to delete\n", r.dir)
	default:
		fmt.Fprintf(r.out, "would delete %s (%s, %s)\n", r.dir, plural(r.users, "user"), plural(r.rooms, "room"))
	}
	if mode == resetLocalOnly {
		fmt.Fprintln(r.out, "the rooms stay on the homeserver: the next start recovers them from their state events")
	}
}

// leaveAll leaves and forgets every room. A room that fails is reported
// and the state directory kept, so that running again finishes the job.
func (r *resetter) leaveAll(ctx context.Context, rooms []resetRoom) error {
	n := 0
	for _, room := range rooms {
		err := r.mx.LeaveRoom(ctx, room.id)
		if err == nil {
			err = r.mx.ForgetRoom(ctx, room.id)
		}
		if err != nil {
			fmt.Fprintln(r.errOut, "surfaces:", err)
			n++
			continue
		}
		fmt.Fprintf(r.out, "left and forgot %s: %s\n", room.id, room.what)
	}
	if n > 0 {
		return fmt.Errorf("%s could not be left; the state directory %s is kept: run the reset again", plural(n, "room"), r.dir)
	}
	return nil
}

// deleteState deletes the records (PostgreSQL's rows), closes the state
// and deletes its directory.
func (r *resetter) deleteState(ctx context.Context) error {
	if r.postgres {
		if err := r.store.Wipe(ctx); err != nil {
			return err
		}
		fmt.Fprintf(r.out, "deleted every record in PostgreSQL (%s, %s)\n", plural(r.users, "user"), plural(r.rooms, "room"))
	}
	if err := r.store.Close(); err != nil {
		return err
	}
	if r.absent {
		fmt.Fprintf(r.out, "state directory %s does not exist: nothing to delete\n", r.dir)
		return nil
	}
	if err := os.RemoveAll(r.dir); err != nil {
		return fmt.Errorf("failed to delete the state directory: %w", err)
	}
	fmt.Fprintf(r.out, "deleted %s (%s, %s)\n", r.dir, plural(r.users, "user"), plural(r.rooms, "room"))
	return nil
}
