package matrix

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
)

// Sink receives the actor messages the sync loop produces. It must not block.
type Sink func(msg any)

// Client is the bot's Matrix connection. It implements actors.Matrix.
type Client struct {
	cli    *mautrix.Client
	store  StateStore
	server string
	// failingSince is when syncs started failing (Unix ns), 0 while they
	// go through.
	failingSince atomic.Int64
	// pos holds the sync position until the tree acks (see position).
	pos *position
	// crypto is set by EnableCrypto.
	crypto *cryptoState
	// courtesy holds typing and receipts back while they are rate-limited.
	courtesy courtesyGate
}

// SyncFailingFor is how long syncing has been failing, 0 while it works.
func (c *Client) SyncFailingFor() time.Duration {
	since := c.failingSince.Load()
	if since == 0 {
		return 0
	}
	return time.Since(time.Unix(0, since))
}

var _ actors.Matrix = (*Client)(nil)

// Connect logs in (see Credentials) and returns a client ready to Run.
// Wrong credentials return an error wrapping ErrLogin, an unreachable
// homeserver one wrapping ErrUnreachable.
func Connect(ctx context.Context, creds Credentials, store StateStore) (*Client, error) {
	cli, err := login(ctx, creds, store)
	if err != nil {
		return nil, err
	}
	cli.Store = syncStore{store}
	_, server, _ := strings.Cut(creds.UserID, ":")
	return &Client{cli: cli, store: store, server: server, pos: newPosition(store, cli.UserID.String(), DefaultAckWait)}, nil
}

// UserID is the bot's Matrix id.
func (c *Client) UserID() string { return c.cli.UserID.String() }

// DeviceID is the bot's device.
func (c *Client) DeviceID() string { return c.cli.DeviceID.String() }

// Run syncs until ctx ends, handing events to sink. onFirstSync runs once,
// after the first sync response was processed. It returns nil when ctx was
// cancelled and an error when syncing cannot go on (e.g. the token was
// revoked). Every event handed to sink carries an actors.Ack; the sync
// position is stored once they are acked (see position), and the ones
// acked after Run returned are stored by CommitSync.
func (c *Client) Run(ctx context.Context, sink Sink, onFirstSync func()) error {
	s := newSyncer(c, sink, c.pos, onFirstSync)
	c.cli.Syncer = s
	// Everything Run starts ends with it: the position's writer, and the
	// messages waiting for their room keys (their events are delivered
	// again after the next start).
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); c.pos.run(runCtx) }()
	defer func() { stop(); s.waiting.Wait(); <-done }()
	err := c.cli.SyncWithContext(runCtx)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("matrix sync stopped: %w", err)
	}
	return nil
}

// CommitSync stores the sync position past every event acked so far. A
// graceful stop calls it once the actor tree has stopped; the events not
// acked by then are delivered again after the next start.
func (c *Client) CommitSync(ctx context.Context) error {
	if err := c.pos.commit(ctx, false); err != nil {
		return fmt.Errorf("failed to store the sync position: %w", err)
	}
	return nil
}

// syncStore adapts our StateStore to mautrix.SyncStore.
type syncStore struct{ s StateStore }

func (s syncStore) SaveFilterID(ctx context.Context, u id.UserID, f string) error {
	return s.s.SaveFilterID(ctx, u.String(), f)
}

func (s syncStore) LoadFilterID(ctx context.Context, u id.UserID) (string, error) {
	return s.s.LoadFilterID(ctx, u.String())
}

// SaveNextBatch does nothing: mautrix calls it before the response is
// processed, and the position is stored only once the tree acked the
// response's events (see position).
func (s syncStore) SaveNextBatch(context.Context, id.UserID, string) error {
	return nil
}

func (s syncStore) LoadNextBatch(ctx context.Context, u id.UserID) (string, error) {
	return s.s.LoadNextBatch(ctx, u.String())
}
