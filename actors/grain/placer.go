package grain

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/surfaces-bot/surfaces/actors"
)

// Placer places grains on a protoactor-go cluster whose members host their
// kinds (actors.Placer). The kinds are made before the cluster and the
// users' actors they host need a Placer, so it is made empty (NewPlacer)
// and given its cluster once that started (Start).
type Placer struct {
	mu      sync.Mutex
	cluster *cluster.Cluster
	sub     *eventstream.Subscription
	// gone are the members' addresses whose connection ended (remote's
	// EndpointTerminatedEvent) and that the topology still lists: a grain
	// they own waits for the topology rather than for a lookup sent to a
	// dead member to time out (5 s with disthash).
	gone map[string]bool
}

var _ actors.Placer = (*Placer)(nil)

// ErrOwnerGone: the member a grain is placed on lost its connection and the
// cluster's topology does not say so yet; try again shortly.
var ErrOwnerGone = errors.New("the member the grain is placed on is gone")

// NewPlacer returns a placer that places nothing until Start.
func NewPlacer() *Placer { return &Placer{gone: map[string]bool{}} }

// Start places grains on c from now on, following its events until Close.
func (p *Placer) Start(c *cluster.Cluster) {
	sub := c.ActorSystem.EventStream.Subscribe(func(evt any) {
		switch e := evt.(type) {
		case *remote.EndpointTerminatedEvent:
			p.mu.Lock()
			p.gone[e.Address] = true
			p.mu.Unlock()
		case *cluster.ClusterTopology:
			// A member that left owns nothing now; one that joined at an
			// address once gone is a new process there.
			p.mu.Lock()
			for _, m := range append(e.Left, e.Joined...) {
				delete(p.gone, m.Address())
			}
			p.mu.Unlock()
		}
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cluster, p.sub = c, sub
}

// Close stops following the cluster's events.
func (p *Placer) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cluster != nil {
		p.cluster.ActorSystem.EventStream.Unsubscribe(p.sub)
	}
}

func (p *Placer) started() *cluster.Cluster {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cluster
}

// Place implements actors.Placer. protoactor's lookup bounds its own wait
// (5 s with disthash); ctx only stops a call not begun.
func (p *Placer) Place(ctx context.Context, kind, id string) (*actor.PID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := p.started()
	if c == nil {
		return nil, fmt.Errorf("failed to place %s %s: not in a cluster yet: %w", kind, id, ErrNotPlaced)
	}
	if owner := p.Owner(kind, id); owner != "" && p.isGone(owner) {
		return nil, fmt.Errorf("failed to place %s %s on %s: %w", kind, id, owner, ErrOwnerGone)
	}
	pid := c.Get(id, kind)
	if pid == nil {
		return nil, fmt.Errorf("failed to place %s %s: %w", kind, id, ErrNotPlaced)
	}
	return pid, nil
}

// Owner is the address of the member the grain kind/id is placed on by the
// current topology, as disthash computes it; "" with no member.
func (p *Placer) Owner(kind, id string) string {
	c := p.started()
	if c == nil {
		return ""
	}
	rdv := cluster.NewRendezvous()
	rdv.UpdateMembers(c.MemberList.Members().Members())
	return rdv.GetByClusterIdentity(cluster.NewClusterIdentity(id, kind))
}

func (p *Placer) isGone(address string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gone[address]
}
