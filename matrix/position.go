package matrix

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
)

// DefaultAckWait is how long a sync response waits for the tree to ack its
// events before its position is stored anyway (see position).
const DefaultAckWait = time.Minute

// position keeps the sync position in step with what the actor tree has
// made durable (PRODUCT R3.2, R7.2). mautrix stores the next_batch token
// before it processes a response; a crash in between would lose the
// response's events. So the token is held here instead, one batch per
// response: each event the syncer hands over carries an actors.Ack, and a
// batch is complete once all of its events are acked. The complete batches
// at the front are committed in one write: their events marked handled,
// then the newest token. A crash before that makes the homeserver deliver
// the events again, and the marks (and a room's own record of what it took)
// keep the ones already handled from running twice.
//
// A batch whose acks have not all come within wait (an event lost in an
// actor that crashed, a bug) is committed anyway, with a warning: one lost
// ack must not hold the position back for ever.
//
// position is safe for concurrent use: acks come from actor goroutines.
type position struct {
	store  StateStore
	userID string
	wait   time.Duration
	now    func() time.Time

	mu      sync.Mutex
	batches []*batch
	kick    chan struct{}

	// commitMu keeps commits in order.
	commitMu sync.Mutex
}

// batch is one sync response.
type batch struct {
	token string
	// handled are the events to mark handled when the batch is committed.
	handled []string
	// pending counts the acks not come yet, plus one until it is sealed.
	pending int
	sealed  time.Time
}

func newPosition(store StateStore, userID string, wait time.Duration) *position {
	if wait <= 0 {
		wait = DefaultAckWait
	}
	return &position{store: store, userID: userID, wait: wait, now: time.Now, kick: make(chan struct{}, 1)}
}

// open starts the batch of a response whose next_batch is token. Until it
// is sealed it is not complete, however many of its acks came.
func (p *position) open(token string) *batch {
	b := &batch{token: token, pending: 1}
	p.mu.Lock()
	p.batches = append(p.batches, b)
	p.mu.Unlock()
	return b
}

// ack returns an Ack for one more event of b; handled, if not empty, is
// the event id to mark handled when b is committed.
func (p *position) ack(b *batch, handled string) *actors.Ack {
	p.mu.Lock()
	b.pending++
	if handled != "" {
		b.handled = append(b.handled, handled)
	}
	p.mu.Unlock()
	return actors.NewAck(func() { p.done(b) })
}

// seal says every event of b has been handed over.
func (p *position) seal(b *batch) {
	p.mu.Lock()
	b.sealed = p.now()
	p.mu.Unlock()
	p.done(b)
}

func (p *position) done(b *batch) {
	p.mu.Lock()
	b.pending--
	complete := b.pending == 0
	p.mu.Unlock()
	if complete {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

// take removes the batches at the front that may be committed and returns
// the newest token among them (ok is false when none may), and the events
// to mark handled: those of the batches it removed and of every other
// complete batch (whose marks it clears). The marks do not wait for the
// position: an event held by a slow ack (a message waiting for its room
// key, a !new making its room) must not keep later, finished events from
// being marked, or a kill meanwhile would run those again. With overdue, a
// sealed batch past the wait counts as complete.
func (p *position) take(log *zerolog.Logger, overdue bool) (token string, handled []string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	n := 0
	for _, b := range p.batches {
		if b.pending > 0 {
			late := overdue && !b.sealed.IsZero() && now.Sub(b.sealed) >= p.wait
			if !late {
				break
			}
			log.Warn().Int("unacked", b.pending).Stringer("waited", now.Sub(b.sealed)).
				Msg("events of a sync response were not acked in time; storing the sync position past them")
		}
		token = b.token
		handled = append(handled, b.handled...)
		n++
	}
	p.batches = p.batches[n:]
	for _, b := range p.batches {
		if b.pending == 0 {
			handled = append(handled, b.handled...)
			b.handled = nil
		}
	}
	return token, handled, n > 0
}

// commit writes what take returns: the marks, and the position when one
// may move. A failed write puts them back, to be tried again.
func (p *position) commit(ctx context.Context, overdue bool) error {
	p.commitMu.Lock()
	defer p.commitMu.Unlock()
	token, handled, ok := p.take(zerolog.Ctx(ctx), overdue)
	if !ok && len(handled) == 0 {
		return nil
	}
	next := token
	if !ok {
		next = "" // marks only: the position stays
	}
	if err := p.store.CommitSync(ctx, p.userID, next, handled); err != nil {
		p.mu.Lock()
		if ok {
			p.batches = append([]*batch{{token: token, handled: handled}}, p.batches...)
		} else if len(p.batches) > 0 {
			p.batches[0].handled = append(p.batches[0].handled, handled...)
		}
		p.mu.Unlock()
		return err
	}
	return nil
}

// run commits as batches complete, and the overdue ones, until ctx ends.
func (p *position) run(ctx context.Context) {
	log := zerolog.Ctx(ctx)
	tick := time.NewTicker(max(p.wait/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		overdue := false
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-tick.C:
			overdue = true
		}
		if err := p.commit(ctx, overdue); err != nil && ctx.Err() == nil {
			log.Error().Err(err).Msg("failed to store the sync position")
		}
	}
}

// acker hands out the Acks of one unit of input: a sync response, or an
// appservice transaction.
type acker interface {
	// ack returns an Ack for one more event of the unit; handled, if not
	// empty, is the event id to mark handled once the unit is committed.
	ack(handled string) *actors.Ack
}

// syncAcks are the Acks of one sync response.
type syncAcks struct {
	pos *position
	b   *batch
}

func (a syncAcks) ack(handled string) *actors.Ack { return a.pos.ack(a.b, handled) }
