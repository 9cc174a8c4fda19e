package matrix

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
)

// sync hands a sync response to the crypto machinery before the bot reads
// its timelines: to-device events (room keys from the users' devices),
// device-list changes, one-time key counts, and the room state encryption
// depends on (who is a member, which rooms are encrypted).
func (cs *cryptoState) sync(ctx context.Context, resp *mautrix.RespSync, since string) {
	cs.mach.ProcessSyncResponse(ctx, resp, since)
	for roomID, room := range resp.Rooms.Join {
		cs.roomState(ctx, roomID, room.State.Events)
		cs.roomState(ctx, roomID, room.Timeline.Events)
	}
	for roomID, room := range resp.Rooms.Leave {
		cs.roomState(ctx, roomID, room.State.Events)
		cs.roomState(ctx, roomID, room.Timeline.Events)
	}
}

// roomState records the state events among events in the state store;
// a membership change also ends the room's outbound key, so that the next
// message is encrypted with a key the current members have (and only they).
func (cs *cryptoState) roomState(ctx context.Context, roomID id.RoomID, events []*event.Event) {
	for _, evt := range events {
		if evt.StateKey == nil {
			continue
		}
		evt.RoomID = roomID
		if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
			continue
		}
		mautrix.UpdateStateStore(ctx, cs.state, evt)
		if evt.Type == event.StateMember {
			cs.mach.HandleMemberEvent(ctx, evt)
		}
	}
}

// encrypted decrypts an m.room.encrypted timeline event and hands over what
// it holds. When the room key has not come (it travels to-device, and may
// arrive after the message), the event waits for it in the background: a
// short wait, then a key request to the sender's and the bot's own devices,
// then the rest of KeyWait. If the key does not come the user is asked to
// send the message again, once, and the operator gets a log line with the
// session id (PRODUCT R10.2). The event's Ack is held meanwhile, so a
// restart tries again rather than forget it.
func (s *syncer) encrypted(ctx context.Context, cs *cryptoState, acks acker, mark string, evt *event.Event) {
	ack := acks.ack(mark)
	if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
		s.undecryptable(ctx, evt, ack, err)
		return
	}
	decrypted, err := cs.mach.DecryptMegolmEvent(ctx, evt)
	switch {
	case err == nil:
		s.decrypted(decrypted, ack)
	case errors.Is(err, crypto.ErrNoSessionFound):
		s.waiting.Add(1)
		go func() {
			defer s.waiting.Done()
			s.awaitKey(ctx, cs, evt, ack)
		}()
	default:
		s.undecryptable(ctx, evt, ack, err)
	}
}

// firstKeyWait is how long a message waits for its room key before the bot
// asks for it: the key is usually on its way already.
const firstKeyWait = 3 * time.Second

func (s *syncer) awaitKey(ctx context.Context, cs *cryptoState, evt *event.Event, ack *actors.Ack) {
	content := evt.Content.AsEncrypted()
	first := min(firstKeyWait, cs.keyWait)
	if !cs.mach.WaitForSession(ctx, evt.RoomID, content.SenderKey, content.SessionID, first) {
		if ctx.Err() != nil {
			return // stopping: the event is delivered again after the start
		}
		cs.RequestSession(ctx, evt.RoomID, content.SenderKey, content.SessionID, evt.Sender, content.DeviceID)
		if !cs.mach.WaitForSession(ctx, evt.RoomID, content.SenderKey, content.SessionID, cs.keyWait-first) {
			if ctx.Err() != nil {
				return
			}
			s.undecryptable(ctx, evt, ack, crypto.ErrNoSessionFound)
			return
		}
	}
	decrypted, err := cs.mach.DecryptMegolmEvent(ctx, evt)
	if err != nil {
		s.undecryptable(ctx, evt, ack, err)
		return
	}
	s.decrypted(decrypted, ack)
}

// decrypted hands over a decrypted event like any other.
func (s *syncer) decrypted(evt *event.Event, ack *actors.Ack) {
	msg, ok := s.convert(evt)
	if !ok {
		ack.Done()
		return
	}
	s.sink(withAck(msg, ack))
}

// undecryptable tells the actors that a message could not be read, so its
// sender is asked to send it again.
func (s *syncer) undecryptable(ctx context.Context, evt *event.Event, ack *actors.Ack, err error) {
	log := zerolog.Ctx(ctx).Warn().Err(err).Str("room_id", evt.RoomID.String()).
		Str("event_id", evt.ID.String()).Str("sender", evt.Sender.String())
	if content, ok := evt.Content.Parsed.(*event.EncryptedEventContent); ok {
		log = log.Str("session_id", content.SessionID.String()).Str("sender_device", content.DeviceID.String())
	}
	log.Msg("could not decrypt a message; asking the sender to send it again")
	s.sink(withAck(&actors.MessageReceived{
		RoomID: evt.RoomID.String(), EventID: evt.ID.String(), Sender: evt.Sender.String(),
		MsgType: actors.MsgTypeUndecryptable, SentAt: time.UnixMilli(evt.Timestamp),
	}, ack))
}

// announceDevice tells the rooms the bot serves encrypted that its device
// is new (PRODUCT R10.2): after a lost state directory its users' clients
// see an unknown device, and keys shared with the old one are gone. It runs
// once, after the first sync of a start that made the device's keys.
func (s *syncer) announceDevice(ctx context.Context, cs *cryptoState, acks acker) {
	if !cs.newDevice {
		return
	}
	bot := s.c.cli.UserID
	rooms, err := cs.state.FindSharedRooms(ctx, bot)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("failed to list the encrypted rooms to announce the new device in")
		return
	}
	var joined []string
	for _, room := range rooms {
		if cs.state.IsInRoom(ctx, room, bot) {
			joined = append(joined, room.String())
		}
	}
	if len(joined) == 0 {
		return
	}
	zerolog.Ctx(ctx).Info().Int("rooms", len(joined)).Str("device_id", s.c.cli.DeviceID.String()).Msg("announcing the bot's new device")
	s.sink(&actors.DeviceChanged{RoomIDs: joined, Ack: acks.ack("")})
}
