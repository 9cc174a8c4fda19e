package matrix

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// In appservice mode the homeserver pushes room events, but the crypto
// machine also needs what only a sync of the bot's device carries: room
// keys and key requests sent to-device, device-list changes and one-time
// key counts. Homeservers that implement MSC2409 and MSC3202 push those in
// transactions too; Dendrite does not. RunToDevice syncs for them alone.

// toDeviceRooms is the filter's one room: a room id no server makes, so
// that the sync carries no room at all (an empty list would mean any).
const toDeviceRooms = "!surfaces-to-device-only:invalid"

// toDeviceSyncer is the mautrix.Syncer of RunToDevice.
type toDeviceSyncer struct {
	c         *Client
	cs        *cryptoState
	firstDone func()
	first     bool
}

// GetFilterJSON implements mautrix.Syncer: no rooms, no presence, no
// account data; to-device events and device lists are not filtered.
func (s *toDeviceSyncer) GetFilterJSON(id.UserID) *mautrix.Filter {
	none := &mautrix.FilterPart{NotTypes: []event.Type{{Type: "*"}}}
	return &mautrix.Filter{
		Room:        &mautrix.RoomFilter{Rooms: []id.RoomID{toDeviceRooms}, Timeline: none, State: none, Ephemeral: none, AccountData: none},
		Presence:    none,
		AccountData: none,
	}
}

// ProcessResponse implements mautrix.Syncer: the crypto machine takes the
// response, then its position is stored (after, so that a crash between
// the two has the homeserver send the to-device events again).
func (s *toDeviceSyncer) ProcessResponse(ctx context.Context, resp *mautrix.RespSync, since string) error {
	s.c.failingSince.Store(0)
	s.cs.mach.ProcessSyncResponse(ctx, resp, since)
	if err := s.c.store.SaveNextBatch(ctx, s.c.cli.UserID.String(), resp.NextBatch); err != nil {
		return fmt.Errorf("failed to store the to-device sync position: %w", err)
	}
	if !s.first {
		s.first = true
		if s.firstDone != nil {
			s.firstDone()
		}
	}
	return nil
}

// OnFailedSync implements mautrix.Syncer: tried again every 5 s, as the
// sync loop does.
func (s *toDeviceSyncer) OnFailedSync(_ *mautrix.RespSync, err error) (time.Duration, error) {
	s.c.failingSince.CompareAndSwap(0, time.Now().UnixNano())
	if errors.Is(err, mautrix.MUnknownToken) {
		return 0, err
	}
	return 5 * time.Second, nil
}

// RunToDevice syncs the bot's device for its to-device events and device
// lists only, until ctx ends (appservice mode with encryption; see above).
// firstDone runs once, after the first response.
func (c *Client) RunToDevice(ctx context.Context, firstDone func()) error {
	if c.crypto == nil {
		return errors.New("failed to sync to-device events: encryption is off")
	}
	c.cli.Syncer = &toDeviceSyncer{c: c, cs: c.crypto, firstDone: firstDone}
	zerolog.Ctx(ctx).Info().Str("device_id", c.cli.DeviceID.String()).Msg("syncing the bot's device for to-device events")
	err := c.cli.SyncWithContext(ctx)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("the to-device sync stopped: %w", err)
	}
	return nil
}
