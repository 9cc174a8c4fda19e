package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/config"
	"github.com/surfaces-bot/surfaces/persistence/pgstore"
)

// Cluster mode (cluster.enabled, issue 24): several copies of the binary
// share one PostgreSQL database. Each joins it as a member; one at a time
// holds the ingress (pgstore.Member.TakeIngress) and runs everything a
// single bot runs, from the sync position and records the last holder
// left in the database. The others stand by: /healthz answers, /readyz
// says "standby", and the first to take the ingress after the holder dies
// starts as a bot restarted after a crash would (interrupted turns are
// told, queued messages run, the room actors take new fencing epochs).
//
// A holder whose database session is lost stops at once, as if killed: by
// then another member may hold the ingress, and two members answering one
// room is what the cluster must never do.

// memberID is the configured member id, else the host name.
func memberID(cfg *config.Config) (string, error) {
	if cfg.Cluster.MemberID != "" {
		return cfg.Cluster.MemberID, nil
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "", fmt.Errorf("%w: cluster.member_id is empty and the host name is unknown (%v): set it", errConfig, err)
	}
	return host, nil
}

// joinCluster makes the process the configured member of the cluster on
// store, turning each way it can be refused into one line saying what to
// do.
func joinCluster(ctx context.Context, id string, store stateStore) (*pgstore.Member, error) {
	pg, ok := store.(*pgstore.Store)
	if !ok {
		return nil, fmt.Errorf("%w: cluster.enabled needs persistence.backend: postgres", errConfig)
	}
	m, err := pg.Join(ctx, id, pgstore.MemberInfo{Host: cmp.Or(hostname(), "?"), PID: os.Getpid()})
	switch {
	case errors.Is(err, pgstore.ErrMemberTaken):
		return nil, fmt.Errorf("%w: cluster.member_id %q is in use by a running member: give each member its own id", errConfig, id)
	case errors.Is(err, pgstore.ErrLocked):
		return nil, errors.New("the PostgreSQL database is held by a tool (reconcile or reset): wait for it to finish")
	case err != nil:
		return nil, err
	}
	return m, nil
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// awaitIngress stands by until the member holds the ingress, saying so on
// /readyz and in the log. tookOver is true when another member held it
// first: that member kept the records in the shared database current until
// it stopped, so the start-up reconciliation need not read every room
// (actors.Options.TookOver). waiting, when set, runs once the member
// stands by (another member holds the ingress).
func awaitIngress(ctx context.Context, m *pgstore.Member, h *health, waiting func()) (tookOver bool, err error) {
	log := zerolog.Ctx(ctx)
	h.standby.Store(true)
	if got, err := m.TryIngress(ctx); err != nil {
		return false, fmt.Errorf("failed to take the ingress: %w", err)
	} else if !got {
		log.Info().Str("member_id", m.ID()).Msg("standing by: another member holds the ingress")
		if waiting != nil {
			waiting()
		}
		start := time.Now()
		if err := m.TakeIngress(ctx); err != nil {
			if ctx.Err() != nil {
				return false, nil // stopped while standing by
			}
			return false, fmt.Errorf("failed to take the ingress: %w", err)
		}
		log.Info().Str("member_id", m.ID()).Dur("waited", time.Since(start)).Msg("took the ingress over")
		tookOver = true
	} else {
		log.Info().Str("member_id", m.ID()).Msg("took the ingress")
	}
	h.standby.Store(false)
	return tookOver, nil
}

// exitNow ends the process at once (a variable, so that a test of the
// wiring could see it called instead).
var exitNow = os.Exit

// stopWhenLost ends the process the moment the member's database session
// is lost while it holds the ingress, without the graceful path: the
// member that takes over tells the users whose turns were cut, as after a
// crash, and nothing of this one may reach Matrix or an agent after that.
func stopWhenLost(ctx context.Context, m *pgstore.Member) {
	go func() {
		select {
		case <-m.Lost():
			zerolog.Ctx(ctx).Error().Str("member_id", m.ID()).
				Msg("lost the database session that held the ingress; stopping at once so that only the member that takes over answers")
			exitNow(exitFailed)
		case <-ctx.Done():
		}
	}()
}

// ingressGauge is surfaces_cluster_ingress: 1 on the member holding the
// ingress (and on a single bot), 0 on one standing by.
func ingressGauge(h *health) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "surfaces_cluster_ingress",
		Help: "1 while this bot reads the homeserver (a single bot, or the member of a cluster holding the ingress), 0 while a member stands by.",
	}, func() float64 {
		if h.standby.Load() {
			return 0
		}
		return 1
	})
}

// cmdCluster runs `surfaces cluster status`: the members of the cluster
// on the configured database, whether each is running and which holds the
// ingress. It works beside running members (it opens the database shared).
func cmdCluster(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "retire" {
		return cmdClusterRetire(ctx, args[1:], env, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "status" {
		usage(stderr)
		return exitUsage
	}
	cfg, ok := loadConfig("cluster status", args[1:], env, stderr)
	if !ok {
		return exitUsage
	}
	if cfg.Persistence.Backend != config.BackendPostgres {
		fmt.Fprintln(stderr, "surfaces: cluster status needs persistence.backend: postgres (a single bot on Badger has no members)")
		return exitUsage
	}
	log := newLogger(cfg.Log, io.Discard)
	ctx = log.WithContext(ctx)
	store, err := openPostgres(ctx, cfg.Persistence.PostgresDSN.Reveal(), pgstore.Options{Shared: true})
	if err != nil {
		fmt.Fprintln(stderr, "surfaces:", err)
		return exitFailed
	}
	defer store.Close()
	members, err := store.Members(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "surfaces:", err)
		return exitFailed
	}
	if len(members) == 0 {
		fmt.Fprintln(stdout, "no members: no bot in cluster mode has joined this database")
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tSTATE\tGRAINS\tHOST\tPID\tJOINED")
	for _, m := range members {
		// With cluster.grains every member serves the rooms placed on it,
		// and the ingress holder reads the homeserver for all of them.
		hosts := m.Grains >= 0
		state := "standby"
		switch {
		case !m.Live:
			state = "gone (ended without leaving)"
		case m.Ingress && hosts:
			state = "ingress (reads the homeserver, serves its grains)"
		case m.Ingress:
			state = "ingress (runs every conversation)"
		case hosts:
			state = "standby (serves its grains)"
		}
		grains := "-" // hosts no grains (cluster.grains off)
		if hosts {
			grains = strconv.Itoa(m.Grains)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", m.ID, state, grains, m.Host, m.PID, m.JoinedAt.UTC().Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return exitFailed
	}
	return exitOK
}
