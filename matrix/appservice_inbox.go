package matrix

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"

	"github.com/surfaces-bot/surfaces/actors"
)

// The appservice inbox (see Appservice): what happens to a transaction
// after it was kept and answered. It is handed to the tree, settled once
// its events are acked, and handed over again by the next start's Resume
// when a stop or a crash came first.

// Resume hands the tree the transactions kept in the inbox that a stop or
// a crash left unsettled, oldest first. Call it once the tree runs and
// before the handler serves (or, in a cluster, when this member takes the
// ingress).
func (a *Appservice) Resume(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped() {
		return nil // closed: the inbox waits for the next start
	}
	log := zerolog.Ctx(ctx)
	keys, bodies, err := a.c.store.Inbox(ctx)
	if err != nil {
		return fmt.Errorf("failed to read the appservice inbox: %w", err)
	}
	for i, key := range keys {
		handled, err := a.c.store.EventHandled(ctx, key)
		if err != nil {
			return fmt.Errorf("failed to check appservice transaction %s: %w", key, err)
		}
		var body transactionBody
		if !handled {
			if err := json.Unmarshal(bodies[i], &body); err != nil {
				log.Error().Err(err).Str("txn", key).Msg("a kept appservice transaction cannot be read; dropping it")
				handled = true
			}
		}
		if handled {
			// Settled, and a crash came before it left the inbox.
			if err := a.c.store.RemoveFromInbox(ctx, key); err != nil {
				return err
			}
			continue
		}
		log.Info().Str("txn", key).Int("events", len(body.Events)).Msg("handing over an appservice transaction kept before the restart")
		a.handOver(log.With().Str("txn", key).Logger().WithContext(a.base), key, &body)
	}
	return nil
}

// Close settles what it can of the transactions still waiting for acks:
// the marks of the events acked are stored, and the rest stays in the
// inbox for Resume. Call it once the tree has stopped; the handler answers
// 503 from then on.
func (a *Appservice) Close() {
	// Under mu: a transaction being handled finishes handing over first,
	// and none starts after, so every settling is counted before the wait.
	a.mu.Lock()
	a.stopOnce.Do(func() { close(a.stop) })
	a.mu.Unlock()
	a.settling.Wait()
}

func (a *Appservice) stopped() bool {
	select {
	case <-a.stop:
		return true
	default:
		return false
	}
}

// handOver gives the crypto machine the keys a kept transaction pushes and
// the tree its events, but for those another unsettled transaction handed
// over already, and settles it in the background once they are acked.
func (a *Appservice) handOver(ctx context.Context, mark string, body *transactionBody) {
	a.s.pushedKeys(ctx, &body.transactionKeys)
	var ids []string
	a.flightMu.Lock()
	events := slices.DeleteFunc(slices.Clone(body.Events), func(evt *event.Event) bool {
		if evt == nil || evt.ID == "" {
			return false
		}
		if a.inflight[evt.ID.String()] {
			return true
		}
		a.inflight[evt.ID.String()] = true
		ids = append(ids, evt.ID.String())
		return false
	})
	a.flightMu.Unlock()
	acks := newTxnAcks()
	a.s.pushed(ctx, acks, events)
	acks.seal()
	a.settling.Add(1)
	go a.settle(ctx, mark, ids, acks)
}

// settle waits for a transaction's acks (at most the ack wait, or until
// Close), stores the marks of the events acked and, when all were or the
// wait ran out, the transaction's own mark, and takes it out of the inbox.
func (a *Appservice) settle(ctx context.Context, mark string, ids []string, acks *txnAcks) {
	defer a.settling.Done()
	defer func() {
		a.flightMu.Lock()
		for _, id := range ids {
			delete(a.inflight, id)
		}
		a.flightMu.Unlock()
	}()
	log := zerolog.Ctx(ctx)
	timer := time.NewTimer(a.ackWait)
	defer timer.Stop()
	overdue := false
	select {
	case <-acks.done:
	case <-timer.C:
		overdue = true
	case <-a.stop:
	}
	marks, complete := acks.acked()
	if complete || overdue {
		marks = append(marks, mark)
	}
	ctx = context.WithoutCancel(ctx)
	if err := a.c.store.CommitSync(ctx, a.c.cli.UserID.String(), "", marks); err != nil {
		// Left in the inbox: the next start hands it over again.
		log.Error().Err(err).Msg("failed to store what an appservice transaction handled")
		return
	}
	switch {
	case complete:
		log.Debug().Msg("appservice transaction handled")
	case overdue:
		log.Warn().Stringer("waited", a.ackWait).Msg("appservice transaction not acked in time; settled anyway")
	default:
		log.Info().Msg("stopping: an appservice transaction left for the next start")
		return
	}
	if err := a.c.store.RemoveFromInbox(ctx, mark); err != nil {
		// Its mark is stored: Resume drops it.
		log.Warn().Err(err).Msg("failed to take a handled transaction out of the inbox")
	}
}

// txnAcks are the Acks of one appservice transaction: done closes once
// every event handed over was acked and the transaction sealed.
type txnAcks struct {
	mu      sync.Mutex
	pending int
	handled []string
	done    chan struct{}
}

func newTxnAcks() *txnAcks { return &txnAcks{pending: 1, done: make(chan struct{})} }

func (t *txnAcks) ack(handled string) *actors.Ack {
	t.mu.Lock()
	t.pending++
	t.mu.Unlock()
	return actors.NewAck(func() {
		t.mu.Lock()
		if handled != "" {
			t.handled = append(t.handled, handled)
		}
		t.mu.Unlock()
		t.release()
	})
}

// seal says every event was handed over.
func (t *txnAcks) seal() { t.release() }

func (t *txnAcks) release() {
	t.mu.Lock()
	t.pending--
	last := t.pending == 0
	t.mu.Unlock()
	if last {
		close(t.done)
	}
}

// acked returns the marks of the events acked so far, and whether all are.
func (t *txnAcks) acked() (marks []string, complete bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.handled...), t.pending == 0
}
