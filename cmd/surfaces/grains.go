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
	"github.com/surfaces-bot/surfaces/clustering"
	"github.com/surfaces-bot/surfaces/config"
	"github.com/surfaces-bot/surfaces/persistence/pgstore"
)

// Grains (cluster.grains, issue 24): every member of the cluster hosts a
// share of the rooms' actors as protoactor-go grains, placed by rendezvous
// hashing over the live members (clustering.Provider reads them from the
// members table). The ingress holder runs the sync loop and the users'
// actors, which reach their rooms through grain.Placer; a member standing
// by still serves the rooms placed on it.

// clusterName names the protoactor cluster the members form.
const clusterName = "surfaces"

// grainRequestTimeout bounds a lookup of where a room runs.
const grainRequestTimeout = 5 * time.Second

// startGrains makes system a member of the protoactor cluster on store's
// members table, hosting room grains with deps and opts. Its Shutdown also
// shuts system down.
func startGrains(ctx context.Context, cfg *config.Config, member *pgstore.Member, store stateStore, system *actor.ActorSystem,
	deps actors.Deps, opts actors.Options, metrics prometheus.Registerer) (c *cluster.Cluster, err error) {
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
	kind, err := grain.NewKind(ctx, deps, opts)
	if err != nil {
		return nil, err
	}
	provider := clustering.NewProvider(ctx, pg, member, 0)
	c = cluster.New(system, cluster.Configure(clusterName, provider, disthash.New(), remote.Configure(host, port),
		cluster.WithKinds(kind), cluster.WithRequestTimeout(grainRequestTimeout)))
	// protoactor panics when its remote cannot listen or the provider
	// cannot advertise the member: one line for the operator instead.
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("failed to join the cluster's actor systems on %s: %v", cfg.Cluster.Listen, r)
		}
	}()
	c.StartMember()
	zerolog.Ctx(ctx).Info().Str("address", system.Address()).Msg("hosting room grains")
	kindOf := c.GetClusterKind(grain.Kind)
	if err := metrics.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "surfaces_cluster_grains",
		Help: "The room grains this member of the cluster hosts now (cluster.grains).",
	}, func() float64 { return float64(kindOf.Count()) })); err != nil {
		return c, fmt.Errorf("failed to register the metrics: %w", err)
	}
	go reportGrains(ctx, member, kindOf)
	return c, nil
}

// grainsReportInterval is how often a member writes how many grains it
// hosts, for `surfaces cluster status`.
const grainsReportInterval = 2 * time.Second

// reportGrains writes the member's grain count to the members table until
// ctx ends, when it changed.
func reportGrains(ctx context.Context, member *pgstore.Member, kind *cluster.ActivatedKind) {
	t := time.NewTicker(grainsReportInterval)
	defer t.Stop()
	last := int32(-1)
	for {
		if n := kind.Count(); n != last {
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
