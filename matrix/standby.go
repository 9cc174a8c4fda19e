package matrix

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
)

// A member of a cluster with grains and encryption has a device of its own
// (Credentials.Session), with which the rooms placed on it encrypt what
// they send, while another member holds the ingress and reads the rooms.
// The device still needs what only a sync of it carries: the room keys and
// key requests the users' devices send it, device-list changes, and its
// one-time key counts, without which it would run out of one-time keys and
// users' devices could not open sessions with it. RunStandby syncs it for
// those alone, as RunToDevice does in appservice mode, but keeps its
// position in memory: the stored position is the ingress's.

// standbyRetry is how long a failed standby sync waits before the next.
const standbyRetry = 5 * time.Second

// standbyPoll is the standby sync's long-poll timeout.
const standbyPoll = 30 * time.Second

// standbyDrainTimeout bounds the syncs that empty the device's inbox when
// the member takes the ingress.
const standbyDrainTimeout = 30 * time.Second

// standbyProcessTimeout bounds the crypto machine's work on one response
// (it may ask the homeserver for device keys or upload one-time keys):
// a hand-over or a stop waits for it.
const standbyProcessTimeout = 30 * time.Second

// RunStandby syncs this member's device for its to-device events, device
// lists and one-time key counts until handOver is closed or ctx ends. When
// handOver closed (the member took the ingress over), it then syncs at once
// until the device's inbox is empty and acknowledges what it took, so that
// the sync of the rooms that follows on this device starts from the
// ingress's position without these events delivered to it a second time
// or skipped. It returns an error only when it cannot go on (encryption
// off, the token revoked).
func (c *Client) RunStandby(ctx context.Context, handOver <-chan struct{}) error {
	if c.crypto == nil {
		return errors.New("failed to sync this member's device: encryption is off")
	}
	log := zerolog.Ctx(ctx).With().Str("component", "standby_sync").Str("device_id", c.cli.DeviceID.String()).Logger()
	log.Info().Msg("syncing this member's device for its keys while another member holds the ingress")
	loopCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-handOver:
			cancel()
		case <-loopCtx.Done():
		}
	}()
	s := &standbySync{c: c, log: log}
	if err := s.loop(loopCtx); err != nil || ctx.Err() != nil {
		return err
	}
	if s.synced {
		// The device was on the homeserver while it stood by, and the
		// users' clients shared their room keys with it: taking the
		// ingress over is no new device to announce to them
		// (announceDevice), even when its keys were made at this start.
		c.crypto.newDevice = false
	}
	s.drainLogged(ctx)
	return nil
}

// DrainDevice empties this member's device's inbox of to-device events, as
// RunStandby does when it hands over: for a member that takes the ingress
// at once, without standing by. The stored sync position is another
// device's, and a sync from it would have the homeserver drop what waits
// for this one below it (room keys the users' devices sent while this
// member was down).
func (c *Client) DrainDevice(ctx context.Context) {
	if c.crypto == nil {
		return
	}
	log := zerolog.Ctx(ctx).With().Str("component", "standby_sync").Str("device_id", c.cli.DeviceID.String()).Logger()
	(&standbySync{c: c, log: log}).drainLogged(ctx)
}

// drainLogged drains within standbyDrainTimeout, logging a failure.
func (s *standbySync) drainLogged(ctx context.Context) {
	drainCtx, cancel := context.WithTimeout(ctx, standbyDrainTimeout)
	defer cancel()
	if err := s.drain(drainCtx); err != nil {
		s.log.Warn().Err(err).Msg("failed to take the last to-device events of this member's device; room keys among them are asked for again when needed")
	}
}

// standbySync is one RunStandby: its filter and position, and whether a
// sync went through.
type standbySync struct {
	c      *Client
	log    zerolog.Logger
	filter string
	since  string
	synced bool
}

// loop long-polls until ctx ends.
func (s *standbySync) loop(ctx context.Context) error {
	for ctx.Err() == nil {
		n, err := s.once(ctx, standbyPoll)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, mautrix.MUnknownToken):
			return fmt.Errorf("this member's device was logged out: %w", err)
		case err != nil:
			s.log.Warn().Err(err).Dur("retry_in", standbyRetry).Msg("standby sync failed")
			select {
			case <-ctx.Done():
			case <-time.After(standbyRetry):
			}
		case n > 0:
			s.log.Debug().Int("to_device", n).Msg("standby sync took to-device events")
		}
	}
	return nil
}

// drain syncs without waiting until a response carries no to-device event
// (each request acknowledges what the one before took), or ctx ends.
func (s *standbySync) drain(ctx context.Context) error {
	for {
		n, err := s.once(ctx, 0)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

// once syncs once with the long-poll timeout poll, hands the response to
// the crypto machine and moves the position past it; n is how many
// to-device events it carried.
func (s *standbySync) once(ctx context.Context, poll time.Duration) (n int, err error) {
	if s.filter == "" {
		f := (&toDeviceSyncer{}).GetFilterJSON(s.c.cli.UserID)
		resp, err := s.c.cli.CreateFilter(ctx, f)
		if err != nil {
			return 0, fmt.Errorf("failed to upload the standby sync's filter: %w", err)
		}
		s.filter = resp.FilterID
	}
	resp, err := s.c.cli.FullSyncRequest(ctx, mautrix.ReqSync{Since: s.since, Timeout: int(poll.Milliseconds()), FilterID: s.filter})
	if err != nil {
		return 0, err
	}
	// Handled whole even when ctx ends meanwhile (the response is taken),
	// but bounded: a hand-over or a stop waits for it.
	processCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), standbyProcessTimeout)
	defer cancel()
	s.c.crypto.mach.ProcessSyncResponse(processCtx, resp, s.since)
	s.since, s.synced = resp.NextBatch, true
	return len(resp.ToDevice.Events), nil
}
