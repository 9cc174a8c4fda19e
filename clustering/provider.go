package clustering

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/persistence/pgstore"
)

// Directory lists the members of the database (pgstore.Store).
type Directory interface {
	Members(ctx context.Context) ([]pgstore.MemberStatus, error)
}

// Advertiser records where this member's actor system listens
// (pgstore.Member).
type Advertiser interface {
	Advertise(ctx context.Context, systemID, address string, kinds []string) error
}

var (
	_ Directory  = (*pgstore.Store)(nil)
	_ Advertiser = (*pgstore.Member)(nil)
)

// DefaultInterval is how often a Provider reads the members.
const DefaultInterval = time.Second

// Provider is a protoactor-go cluster provider over the members of the
// database.
type Provider struct {
	dir      Directory
	me       Advertiser
	interval time.Duration
	ctx      context.Context

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

var _ cluster.ClusterProvider = (*Provider)(nil)

// NewProvider returns a provider reading dir every interval (DefaultInterval
// when 0). me advertises this member; it is nil for a client, which hosts
// no grains. ctx carries the logger and bounds the provider's life.
func NewProvider(ctx context.Context, dir Directory, me Advertiser, interval time.Duration) *Provider {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Provider{dir: dir, me: me, interval: interval, ctx: ctx}
}

// StartMember implements cluster.ClusterProvider: it advertises the
// member's actor system and its kinds, then follows the members.
func (p *Provider) StartMember(c *cluster.Cluster) error {
	if p.me == nil {
		return fmt.Errorf("failed to start a cluster member: the provider has no member to advertise")
	}
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil {
		return fmt.Errorf("failed to start a cluster member: %w", err)
	}
	address := net.JoinHostPort(host, strconv.Itoa(port))
	if err := p.me.Advertise(p.ctx, c.ActorSystem.ID, address, c.GetClusterKinds()); err != nil {
		return fmt.Errorf("failed to start a cluster member: %w", err)
	}
	zerolog.Ctx(p.ctx).Info().Str("actor_system_id", c.ActorSystem.ID).Str("address", address).
		Strs("kinds", c.GetClusterKinds()).Msg("cluster member advertised")
	p.follow(c)
	return nil
}

// StartClient implements cluster.ClusterProvider: it follows the members.
func (p *Provider) StartClient(c *cluster.Cluster) error {
	p.follow(c)
	return nil
}

// Shutdown implements cluster.ClusterProvider: it stops following. The
// member's row goes with pgstore.Member.Leave.
func (p *Provider) Shutdown(bool) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel = nil
	p.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}

func (p *Provider) follow(c *cluster.Cluster) {
	ctx, cancel := context.WithCancel(p.ctx)
	done := make(chan struct{})
	p.mu.Lock()
	p.cancel, p.done = cancel, done
	p.mu.Unlock()
	p.update(ctx, c) // the first topology before StartMember returns
	go func() {
		defer close(done)
		t := time.NewTicker(p.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.update(ctx, c)
			}
		}
	}()
}

// update hands the live, advertised members to the cluster. A failed read
// changes nothing: a database out of reach for a moment is not every
// member gone (protoactor blocks a member id that left, for good).
func (p *Provider) update(ctx context.Context, c *cluster.Cluster) {
	statuses, err := p.dir.Members(ctx)
	if err != nil {
		if ctx.Err() == nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("failed to read the cluster's members")
		}
		return
	}
	c.MemberList.UpdateClusterTopology(Members(statuses))
}

// Members are the protoactor members among statuses: the live ones that
// advertised an actor system.
func Members(statuses []pgstore.MemberStatus) []*cluster.Member {
	var out []*cluster.Member
	for _, st := range statuses {
		if !st.Live || st.ActorSystemID == "" {
			continue
		}
		host, port, err := net.SplitHostPort(st.ActorAddress)
		if err != nil {
			continue
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			continue
		}
		out = append(out, &cluster.Member{Id: st.ActorSystemID, Host: host, Port: int32(n), Kinds: append([]string(nil), st.Kinds...)})
	}
	return out
}
