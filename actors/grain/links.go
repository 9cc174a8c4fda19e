package grain

import (
	"context"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// Links is an owner's side of the grains it sends to: the root's of the
// users' grains, a user actor's of its rooms'. It asks the cluster where
// each runs (in a task), numbers the messages whose event waits for an
// Ack, and keeps each until the grain acks it, so that a grain that ends
// without being asked (its member died, it moved) is placed again and
// given those messages again, oldest first. Use it from the owner's
// Receive only.
type Links struct {
	opts  LinksOptions
	links map[string]*link
	seq   uint64
	// closing is set by Close: no grain is placed any more.
	closing bool
}

// LinksOptions configure Links.
type LinksOptions struct {
	// Kind is the kind of the grains (actors.RoomKind, actors.UserKind).
	Kind   string
	Placer actors.Placer
	// Ctx bounds the placement tasks; Log is the owner's logger.
	Ctx context.Context
	Log zerolog.Logger
	// Inc is the owner's incarnation: answers to another are dropped.
	Inc uint64
	// Wrap makes the Deliver of msg (nil: a wake) for the grain id.
	Wrap func(self *actor.PID, id string, seq uint64, msg any) *Deliver
	// Acked reports whether the grain acks msg; the owner acks the rest.
	Acked func(msg any) bool
}

// link is the owner's side of one grain.
type link struct {
	pid     *actor.PID
	placing bool
	// stopping is set once the owner stopped the idle grain: its end is
	// expected, and needs no placement.
	stopping bool
	// waiting are the deliveries made while no PID is known, oldest first.
	waiting []delivery
	// unacked are the messages sent whose Ack waits for the grain, by Seq.
	unacked map[uint64]any
	// sent counts the messages sent to the current activation (see
	// kit.ChildIdle).
	sent uint64
	// tries counts the failed placements in a row.
	tries int
}

type delivery struct {
	seq uint64
	msg any // nil: a wake
}

type (
	// Placed is the cluster's answer to where a grain runs; the owner
	// hands it to its Links.
	Placed struct {
		kind, id string
		inc      uint64
		pid      *actor.PID
		err      error
	}
	// PlaceAgain is an owner's timer to try placing a grain again; the
	// owner hands it to its Links.
	PlaceAgain struct {
		kind, id string
		inc      uint64
	}
)

// maxPlaceWait bounds the pause between two tries to place a grain.
const maxPlaceWait = 5 * time.Second

// NewLinks returns an owner's Links, empty.
func NewLinks(opts LinksOptions) *Links {
	return &Links{opts: opts, links: map[string]*link{}}
}

// Len is the number of grains the owner keeps a link to.
func (l *Links) Len() int { return len(l.links) }

// Has reports whether the owner keeps a link to the grain id.
func (l *Links) Has(id string) bool { _, ok := l.links[id]; return ok }

func (l *Links) of(id string) *link {
	g, ok := l.links[id]
	if !ok {
		g = &link{unacked: map[uint64]any{}}
		l.links[id] = g
	}
	return g
}

// Send sends msg (nil: a wake) to the grain id, placing it first if
// needed. Once the Links close it sends nothing: msg's Ack stays unacked.
func (l *Links) Send(c actor.Context, id string, msg any) {
	if l.closing {
		return
	}
	g := l.of(id)
	d := delivery{msg: msg}
	if msg != nil && l.opts.Acked(msg) {
		l.seq++
		d.seq = l.seq
		g.unacked[d.seq] = msg
	}
	l.deliver(c, id, g, d)
}

func (l *Links) deliver(c actor.Context, id string, g *link, d delivery) {
	if g.pid == nil || g.stopping {
		g.waiting = append(g.waiting, d)
		l.place(c, id, g)
		return
	}
	if d.msg != nil {
		g.sent++
	}
	c.Send(g.pid, l.opts.Wrap(c.Self(), id, d.seq, d.msg))
}

// place asks the cluster, in a task, where the grain id runs (Placed).
func (l *Links) place(c actor.Context, id string, g *link) {
	if g.placing || g.stopping {
		return
	}
	g.placing = true
	placer, kind, inc := l.opts.Placer, l.opts.Kind, l.opts.Inc
	kit.RunTask(c, l.opts.Ctx, func(ctx context.Context) any {
		pid, err := placer.Place(ctx, kind, id)
		return &Placed{kind: kind, id: id, inc: inc, pid: pid, err: err}
	})
}

// Placed takes the cluster's answer to where a grain runs: its waiting
// messages go there, or it is tried again after a pause.
func (l *Links) Placed(c actor.Context, m *Placed) {
	g, ok := l.links[m.id]
	if !ok || m.inc != l.opts.Inc || m.kind != l.opts.Kind {
		return
	}
	g.placing = false
	if m.err != nil {
		g.tries++
		wait := min(time.Duration(g.tries)*200*time.Millisecond, maxPlaceWait)
		l.opts.Log.Warn().Err(m.err).Str("kind", m.kind).Str("id", m.id).Int("tries", g.tries).Stringer("retry_in", wait).Msg("failed to place a grain in the cluster")
		kit.SendLater(c, wait, &PlaceAgain{kind: m.kind, id: m.id, inc: m.inc})
		return
	}
	g.tries = 0
	g.pid, g.sent = m.pid, 0
	c.Watch(m.pid)
	waiting := g.waiting
	g.waiting = nil
	for _, d := range waiting {
		l.deliver(c, m.id, g, d)
	}
}

// PlaceAgain tries again to place a grain (see Placed).
func (l *Links) PlaceAgain(c actor.Context, m *PlaceAgain) {
	if g, ok := l.links[m.id]; ok && m.inc == l.opts.Inc && m.kind == l.opts.Kind {
		l.place(c, m.id, g)
	}
}

// Reported handles an ack or an idle report of a grain; it returns the
// other reports, for the owner, and nil once handled.
func (l *Links) Reported(c actor.Context, m *Reported) *Reported {
	switch {
	case m.Acked != 0:
		if g, ok := l.links[m.ID]; ok {
			if msg, ok := g.unacked[m.Acked]; ok {
				delete(g.unacked, m.Acked)
				actors.AckOf(msg).Done()
				// An ack that came after the grain's end was handled
				// (Terminated is a system message, ahead of it): the
				// message is not sent again.
				g.waiting = slices.DeleteFunc(g.waiting, func(d delivery) bool { return d.seq == m.Acked })
			}
		}
	case m.Idle != nil:
		g, ok := l.links[m.ID]
		if !ok || g.pid == nil || g.stopping || g.sent != m.Idle.Received || len(g.unacked) > 0 || len(g.waiting) > 0 {
			return nil // something is on its way to it
		}
		if m.From != "" && m.From != Activation(g.pid) {
			return nil // an earlier activation's, late
		}
		g.stopping = true
		c.Stop(g.pid)
	default:
		return m
	}
	return nil
}

// Terminated handles the end of a grain the owner watched; it reports
// whether who was one. A grain stopped for idleness is forgotten, or
// placed again if messages came meanwhile. Any other end (its member died,
// it moved, its actor stopped itself) loses what the grain had not acked:
// it is placed again, woken (a room reports a turn its end cut off, a user
// actor wakes its rooms that were not done, user/grains.go), and given
// those messages again, oldest first.
func (l *Links) Terminated(c actor.Context, who *actor.PID) bool {
	for id, g := range l.links {
		if g.pid == nil || !g.pid.Equal(who) {
			continue
		}
		if l.closing {
			delete(l.links, id)
			return true
		}
		g.pid, g.sent = nil, 0
		if g.stopping {
			g.stopping = false
			if len(g.waiting) == 0 && len(g.unacked) == 0 {
				delete(l.links, id)
				return true
			}
		} else {
			l.opts.Log.Info().Str("kind", l.opts.Kind).Str("id", id).Int("unacked", len(g.unacked)).Msg("grain ended; placing it again")
			seqs := make([]uint64, 0, len(g.unacked))
			for seq := range g.unacked {
				seqs = append(seqs, seq)
			}
			slices.Sort(seqs)
			again := []delivery{{}} // the wake first
			for _, seq := range seqs {
				again = append(again, delivery{seq: seq, msg: g.unacked[seq]})
			}
			g.waiting = append(again, g.waiting...)
		}
		l.place(c, id, g)
		return true
	}
	return false
}

// Adopt takes over a crashed incarnation's links: the same PID receives
// their acks, and the new incarnation watches the grains again.
func (l *Links) Adopt(c actor.Context, old *Links) {
	if old == nil {
		return
	}
	l.seq = max(l.seq, old.seq)
	l.closing = l.closing || old.closing
	for id, g := range old.links {
		l.links[id] = g
		g.placing = false
		switch {
		case g.pid != nil:
			c.Watch(g.pid)
		case l.closing:
			delete(l.links, id)
		case len(g.waiting) > 0:
			l.place(c, id, g)
		}
	}
}

// Close hands every grain over (Deliver.Handover) and places none any
// more: the owner moves to another member, and its next activation must
// not place a grain while the last one still finishes its work there (the
// cluster would activate it twice). What the grains had not acked stays
// unacked, for the owner's own owner to send again. Len reaches 0 once
// every grain ended.
func (l *Links) Close(c actor.Context) {
	l.closing = true
	for id, g := range l.links {
		if g.pid == nil {
			delete(l.links, id)
			continue
		}
		if !g.stopping {
			g.stopping = true
			d := l.opts.Wrap(c.Self(), id, 0, nil)
			d.Handover = true
			c.Send(g.pid, d)
		}
	}
}
