package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/grain"
	"github.com/surfaces-bot/surfaces/actors/user"
	"github.com/surfaces-bot/surfaces/clustering"
	"github.com/surfaces-bot/surfaces/config"
	"github.com/surfaces-bot/surfaces/persistence/pgstore"
)

// Grains (cluster.grains, issue 24): every member of the cluster hosts a
// share of the users' and the rooms' actors as protoactor-go grains,
// placed by rendezvous hashing over the live members (clustering.Provider
// reads them from the members table). The ingress holder runs the sync
// loop and the root, which reaches the users' actors through grain.Placer,
// as they reach their rooms; a member standing by still serves the users
// and rooms placed on it.

// clusterName names the protoactor cluster the members form.
const clusterName = "surfaces"

// grainRequestTimeout bounds a lookup of where a grain runs.
const grainRequestTimeout = 5 * time.Second

// startGrains makes system a member of the protoactor cluster on store's
// members table, hosting user and room grains with deps and opts, and
// starts placer on it. Its Shutdown also shuts system down.
func startGrains(ctx context.Context, cfg *config.Config, member *pgstore.Member, store stateStore, system *actor.ActorSystem,
	deps actors.Deps, opts actors.Options, placer *grain.Placer, metrics prometheus.Registerer) (c *cluster.Cluster, err error) {
	pg, ok := store.(*pgstore.Store)
	if !ok || member == nil {
		return nil, fmt.Errorf("%w: cluster.grains needs cluster.enabled and persistence.backend: postgres", errConfig)
	}
	host, portText, err := net.SplitHostPort(cfg.Cluster.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w: cluster.listen: %w", errConfig, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("%w: cluster.listen: bad port %q", errConfig, portText)
	}
	deps.Placer = placer
	kinds, err := user.NewKinds(ctx, deps, opts)
	if err != nil {
		return nil, err
	}
	provider := clustering.NewProvider(ctx, pg, member, 0)
	c = cluster.New(system, cluster.Configure(clusterName, provider, disthash.New(), remote.Configure(host, port),
		cluster.WithKinds(kinds...), cluster.WithRequestTimeout(grainRequestTimeout)))
	// protoactor panics when its remote cannot listen or the provider
	// cannot advertise the member: one line for the operator instead.
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("failed to join the cluster's actor systems on %s: %v", cfg.Cluster.Listen, r)
		}
	}()
	c.StartMember()
	placer.Start(c)
	zerolog.Ctx(ctx).Info().Str("address", system.Address()).Msg("hosting user and room grains")
	var hosted []*cluster.ActivatedKind
	for _, k := range kinds {
		kindOf := c.GetClusterKind(k.Kind)
		hosted = append(hosted, kindOf)
		if err := metrics.Register(grainsGauge(k.Kind, func() float64 { return float64(kindOf.Count()) })); err != nil {
			// Leave the cluster at once: nobody would shut it down.
			c.Shutdown(false)
			return nil, fmt.Errorf("failed to register the metrics: %w", err)
		}
	}
	go reportGrains(ctx, member, hosted)
	return c, nil
}

// grainsGauge is surfaces_cluster_grains{kind}: the grains of kind this
// member hosts now.
func grainsGauge(kind string, count func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "surfaces_cluster_grains",
		Help:        "The grains of each kind (user, room) this member of the cluster hosts now (0 without cluster.grains).",
		ConstLabels: prometheus.Labels{"kind": kind},
	}, count)
}

// registerNoGrains exports surfaces_cluster_grains as 0 for a bot without
// cluster.grains, whose actors are no grains: the series is there for the
// dashboard either way.
func registerNoGrains(metrics prometheus.Registerer) error {
	for _, kind := range []string{actors.UserKind, actors.RoomKind} {
		if err := metrics.Register(grainsGauge(kind, func() float64 { return 0 })); err != nil {
			return fmt.Errorf("failed to register the metrics: %w", err)
		}
	}
	return nil
}

// grainsReportInterval is how often a member writes how many grains it
// hosts, for `surfaces cluster status`.
const grainsReportInterval = 2 * time.Second

// reportGrains writes the member's grain count (all kinds) to the members
// table until ctx ends, when it changed.
func reportGrains(ctx context.Context, member *pgstore.Member, kinds []*cluster.ActivatedKind) {
	t := time.NewTicker(grainsReportInterval)
	defer t.Stop()
	last := int32(-1)
	for {
		n := int32(0)
		for _, k := range kinds {
			n += k.Count()
		}
		if n != last {
			if err := member.ReportGrains(ctx, int(n)); err != nil {
				if ctx.Err() != nil {
					return
				}
				zerolog.Ctx(ctx).Warn().Err(err).Msg("failed to report this member's grains")
			} else {
				last = n
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
