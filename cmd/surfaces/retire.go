package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/surfaces-bot/surfaces/config"
	"github.com/surfaces-bot/surfaces/matrix"
	"github.com/surfaces-bot/surfaces/persistence/pgstore"
)

// cmdClusterRetire is `surfaces cluster retire [-config FILE] MEMBER`: a
// member taken out of the cluster for good. With cluster.grains and
// encryption it logged in as a device of its own, which would otherwise
// stay on the bot's account, the users' clients sharing every room key with
// it; its Olm account would stay in the database. Both go, and its row in
// the member list. A running member is refused; run it again after a
// failure (every step is safe to repeat).
func cmdClusterRetire(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	fs, path := commandFlags("cluster retire", stderr)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "surfaces cluster retire: name the member to retire (its cluster.member_id, as `surfaces cluster status` lists it)")
		return exitUsage
	}
	member := fs.Arg(0)
	// Flags may follow the member id too.
	if !parseArgs(fs, fs.Args()[1:], stderr) {
		return exitUsage
	}
	cfg, ok := loadConfigFile(*path, env, stderr)
	if !ok {
		return exitUsage
	}
	if cfg.Persistence.Backend != config.BackendPostgres {
		fmt.Fprintln(stderr, "surfaces: cluster retire needs persistence.backend: postgres (a single bot on Badger has no members)")
		return exitUsage
	}
	ctx = toolContext(ctx, cfg, stderr)
	store, err := openPostgres(ctx, cfg.Persistence.PostgresDSN.Reveal(), pgstore.Options{Shared: true})
	if err != nil {
		return failed(stderr, err)
	}
	defer store.Close()
	var retired matrix.Retired
	listed, err := store.Retire(ctx, member, func(ctx context.Context) error {
		var rerr error
		retired, rerr = matrix.RetireMember(ctx, store, matrix.RetireOptions{
			Creds: matrix.Credentials{
				Homeserver: cfg.Matrix.Homeserver,
				UserID:     cfg.Matrix.UserID,
				Password:   cfg.Matrix.Password.Reveal(),
			},
			Member:      member,
			PostgresDSN: postgresCryptoDSN(cfg),
		})
		return rerr
	})
	switch {
	case errors.Is(err, pgstore.ErrMemberTaken):
		fmt.Fprintf(stderr, "surfaces: member %q is running: stop it first (a member is retired once it is gone for good)\n", member)
		return exitFailed
	case errors.Is(err, pgstore.ErrLocked):
		fmt.Fprintln(stderr, "surfaces: the PostgreSQL database is held by a tool (reconcile or reset): wait for it to finish")
		return exitFailed
	case err != nil:
		return failed(stderr, err)
	}
	switch {
	case !listed && !retired.Found:
		// A typo must not read as done while the real member's device
		// goes on getting every room key.
		fmt.Fprintf(stderr, "surfaces: no member %q: it is not in the member list and has no session or keys in the database (see `surfaces cluster status`)\n", member)
		return exitFailed
	case retired.DeviceID != "":
		fmt.Fprintf(stdout, "retired member %s: deleted its device %s from %s (the users' clients stop sharing room keys with it) "+
			"and %d rows of its keys from the database; it is off the member list\n", member, retired.DeviceID, cfg.Matrix.UserID, retired.CryptoRows)
	case retired.CryptoRows > 0:
		fmt.Fprintf(stdout, "retired member %s: it had no stored device; deleted %d rows of its keys from the database; it is off the member list\n", member, retired.CryptoRows)
	default:
		fmt.Fprintf(stdout, "retired member %s: it had no device of its own; it is off the member list\n", member)
	}
	return exitOK
}
