package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
)

// syncer turns /sync responses into actor messages. It implements
// mautrix.Syncer itself (rather than DefaultSyncer's handler fan-out) to
// apply the bot's filtering rules in one place (PRODUCT R6.3):
//
//   - the first sync of an empty state is history: invites are handled,
//     timelines are not;
//   - in a room the bot has just joined, events before its own join are history;
//   - the bot's own events, redactions, edits and notices are dropped;
//   - every event handed over carries an actors.Ack, and the sync position
//     is stored only once the tree acked a response's events (see
//     position): a crash before that has the homeserver deliver them again
//     rather than lose them. The event ids of senders the bot serves are
//     marked handled with the position, so a second delivery (of a gap
//     filled twice, say) is skipped; a stranger's event costs no write;
//   - a timeline the server cut short (limited, after downtime) is filled
//     from /messages, within a bound (see gap).
type syncer struct {
	c           *Client
	sink        Sink
	pos         *position
	onFirstSync func()
	once        sync.Once
	// waiting counts the messages waiting for their room keys.
	waiting sync.WaitGroup
	// refusals counts the syncs refused with M_UNKNOWN_TOKEN in a row
	// (see OnFailedSync); the sync loop's goroutine alone touches it.
	refusals int
}

func newSyncer(c *Client, sink Sink, pos *position, onFirstSync func()) *syncer {
	return &syncer{c: c, sink: sink, pos: pos, onFirstSync: onFirstSync}
}

var _ mautrix.Syncer = (*syncer)(nil)

// GetFilterJSON implements mautrix.Syncer: only what the bot uses.
func (s *syncer) GetFilterJSON(id.UserID) *mautrix.Filter {
	none := &mautrix.FilterPart{NotTypes: []event.Type{{Type: "*"}}}
	return &mautrix.Filter{
		AccountData: none,
		Presence:    none,
		Room: &mautrix.RoomFilter{
			AccountData: none,
			Ephemeral:   none,
			State:       &mautrix.FilterPart{LazyLoadMembers: true},
			Timeline:    &mautrix.FilterPart{Limit: 50, LazyLoadMembers: true},
		},
	}
}

// OnFailedSync implements mautrix.Syncer: retry transient failures, stop on
// a revoked token. A sync refused with M_UNKNOWN_TOKEN stops the bot only
// when /whoami confirms the token is gone: a homeserver under load can
// refuse a valid token once (Dendrite on SQLite fails reads and writes
// then), and a bot that stopped syncing for it would answer nobody until
// restarted. At most maxUnconfirmedRefusals such refusals in a row are
// retried.
func (s *syncer) OnFailedSync(_ *mautrix.RespSync, err error) (time.Duration, error) {
	if errors.Is(err, mautrix.MUnknownToken) {
		if !s.tokenStillValid() {
			return 0, err
		}
		s.c.cli.Log.Warn().Err(err).Int("in_a_row", s.refusals).Msg("sync refused the access token but /whoami accepts it, retrying")
	}
	s.c.failingSince.CompareAndSwap(0, time.Now().UnixNano())
	s.c.cli.Log.Warn().Err(err).Msg("sync failed, retrying")
	return 5 * time.Second, nil
}

// maxUnconfirmedRefusals bounds the M_UNKNOWN_TOKEN refusals in a row that
// /whoami contradicts: past it the token is taken as revoked.
const maxUnconfirmedRefusals = 5

// tokenStillValid asks /whoami whether the access token a sync was refused
// with still works (one attempt, 10 s).
func (s *syncer) tokenStillValid() bool {
	s.refusals++
	if s.refusals > maxUnconfirmedRefusals {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.c.cli.Whoami(context.WithValue(ctx, mautrix.MaxAttemptsContextKey, 1))
	if err != nil {
		// Refused again, or the homeserver cannot say: a network error is
		// retried like any other failure, a refusal is final.
		return !errors.Is(err, mautrix.MUnknownToken)
	}
	return resp.UserID == s.c.cli.UserID
}

// ProcessResponse implements mautrix.Syncer.
func (s *syncer) ProcessResponse(ctx context.Context, resp *mautrix.RespSync, since string) error {
	s.c.failingSince.Store(0) // a sync went through
	s.refusals = 0
	bot := s.c.cli.UserID
	b := s.pos.open(resp.NextBatch)
	defer s.pos.seal(b)
	acks := syncAcks{s.pos, b}
	if cs := s.c.crypto; cs != nil {
		// Room keys, device lists and memberships first: the timeline
		// below may need them to decrypt and to answer encrypted.
		cs.sync(ctx, resp, since)
	}
	for roomID, room := range resp.Rooms.Invite {
		for _, evt := range room.State.Events {
			if evt.Type == event.StateMember && evt.GetStateKey() == bot.String() {
				s.invite(ctx, acks, roomID, evt)
			}
		}
	}
	if since != "" {
		for roomID, room := range resp.Rooms.Join {
			events := room.Timeline.Events
			if room.Timeline.Limited && room.Timeline.PrevBatch != "" {
				// The server left events out (the bot was away for long):
				// fetch them, or tell the user they were not read.
				events = append(s.gap(ctx, acks, roomID, room.Timeline.PrevBatch), events...)
			}
			s.timeline(ctx, acks, roomID, events)
		}
	}
	s.once.Do(func() {
		if cs := s.c.crypto; cs != nil {
			s.announceDevice(ctx, cs, acks)
		}
		if s.onFirstSync != nil {
			s.onFirstSync()
		}
	})
	return nil
}

// parseContent parses an event's content once; a second call is not an
// error (an invite's member event is looked at twice in a transaction).
func parseContent(evt *event.Event) error {
	if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
		return err
	}
	return nil
}

// invite hands an invite of the bot by someone else to the sink and
// reports true; any other membership event of the bot it leaves alone.
func (s *syncer) invite(ctx context.Context, acks acker, roomID id.RoomID, evt *event.Event) bool {
	if err := parseContent(evt); err != nil {
		return false
	}
	member := evt.Content.AsMember()
	if member.Membership != event.MembershipInvite || evt.Sender == s.c.cli.UserID {
		return false
	}
	zerolog.Ctx(ctx).Debug().Str("room_id", roomID.String()).Str("inviter", evt.Sender.String()).Msg("invite received")
	s.sink(&actors.InviteReceived{
		RoomID: roomID.String(), EventID: evt.ID.String(), Inviter: evt.Sender.String(), IsDirect: member.IsDirect,
		Ack: acks.ack(""),
	})
	return true
}

func (s *syncer) timeline(ctx context.Context, acks acker, roomID id.RoomID, events []*event.Event) {
	log := zerolog.Ctx(ctx).With().Str("room_id", roomID.String()).Logger()
	bot := s.c.cli.UserID
	// Events before the bot's own join in this batch predate it.
	start := 0
	for i, evt := range events {
		if evt.Type == event.StateMember && evt.GetStateKey() == bot.String() {
			if err := parseContent(evt); err == nil && evt.Content.AsMember().Membership == event.MembershipJoin {
				start = i + 1
			}
		}
	}
	for _, evt := range events[start:] {
		evt.RoomID = roomID
		if evt.Sender == bot || evt.ID == "" {
			continue
		}
		known := s.knownSender(ctx, evt.Sender)
		mark := ""
		if known {
			// A stranger costs no disk write; the root drops the event
			// unless the sender is onboarding right now.
			handled, err := s.c.store.EventHandled(ctx, evt.ID.String())
			if err != nil && ctx.Err() != nil {
				// The bot is stopping (a graceful stop, or a member of a
				// cluster handing over). The event keeps an ack that never
				// comes, so the position stays before it and the next start
				// gets it again; skipped, it would be lost.
				acks.ack("")
				log.Info().Str("event_id", evt.ID.String()).Msg("stopping: an event left for the next start")
				continue
			}
			if err != nil {
				// Without the check a restart's second delivery could be
				// answered twice; better to skip one message than to
				// answer it twice (R7.2).
				log.Error().Err(err).Str("event_id", evt.ID.String()).Msg("failed to check whether an event was handled, skipping it")
				continue
			}
			if handled {
				log.Debug().Str("event_id", evt.ID.String()).Msg("event already handled")
				continue
			}
			mark = evt.ID.String()
		}
		if cs := s.c.crypto; cs != nil && evt.Type == event.EventEncrypted {
			s.encrypted(ctx, cs, acks, mark, evt)
			continue
		}
		if msg, ok := s.convert(evt); ok {
			s.sink(withAck(msg, acks.ack(mark)))
		}
	}
}

// withAck sets the Ack of an event message.
func withAck(msg any, ack *actors.Ack) any {
	switch m := msg.(type) {
	case *actors.MessageReceived:
		m.Ack = ack
	case *actors.ReactionReceived:
		m.Ack = ack
	case *actors.MessagesSkipped:
		m.Ack = ack
	case *actors.InviteReceived:
		m.Ack = ack
	case *actors.DeviceChanged:
		m.Ack = ack
	default:
		ack.Done()
	}
	return msg
}

// convert turns a timeline event into a MessageReceived or a
// ReactionReceived, or reports false for anything the bot ignores.
func (s *syncer) convert(evt *event.Event) (any, bool) {
	if evt.Sender == s.c.cli.UserID || evt.ID == "" {
		return nil, false
	}
	if evt.Type == event.EventReaction {
		return convertReaction(evt)
	}
	if evt.Type == event.EventEncrypted {
		// The bot has no E2EE yet; the actors still learn that the user
		// wrote (enough in the entry room) and can say why they get no answer.
		return &actors.MessageReceived{
			RoomID: evt.RoomID.String(), EventID: evt.ID.String(), Sender: evt.Sender.String(),
			MsgType: actors.MsgTypeEncrypted, SentAt: time.UnixMilli(evt.Timestamp),
		}, true
	}
	if evt.Type != event.EventMessage {
		return nil, false
	}
	if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
		return nil, false // decrypted events come parsed
	}
	content := evt.Content.AsMessage()
	if content.RelatesTo != nil && content.RelatesTo.Type == event.RelReplace {
		return nil, false // edits of earlier messages
	}
	if content.MsgType == event.MsgNotice {
		return nil, false // other bots' notices
	}
	msg := &actors.MessageReceived{
		RoomID:  evt.RoomID.String(),
		EventID: evt.ID.String(),
		Sender:  evt.Sender.String(),
		MsgType: string(content.MsgType),
		Body:    content.Body,
		SentAt:  time.UnixMilli(evt.Timestamp),
		// The first stage of a turn's time (actors.TurnStages).
		ReceivedAt: time.Now(),
	}
	switch content.MsgType {
	case event.MsgFile, event.MsgImage, event.MsgAudio, event.MsgVideo:
		media := &actors.Media{URL: string(content.URL), FileName: content.FileName}
		if content.File != nil {
			// An encrypted room's attachment: the URL and the key are in
			// the (decrypted) event's file object.
			key, err := json.Marshal(content.File.EncryptedFile)
			if err != nil {
				return nil, false
			}
			media.URL, media.Key = string(content.File.URL), string(key)
		}
		if content.FileName == "" {
			media.FileName = content.Body
		}
		if content.Info != nil {
			media.MIME, media.Size = content.Info.MimeType, int64(content.Info.Size)
		}
		msg.Media = media
		if content.FileName == "" || content.FileName == content.Body {
			msg.Body = "" // no caption
		}
	}
	return msg, true
}

// convertReaction turns an m.reaction (an m.annotation of another event)
// into a ReactionReceived.
func convertReaction(evt *event.Event) (any, bool) {
	if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
		return nil, false
	}
	rel := evt.Content.AsReaction().RelatesTo
	if rel.Type != event.RelAnnotation || rel.EventID == "" || rel.Key == "" {
		return nil, false
	}
	return &actors.ReactionReceived{
		RoomID: evt.RoomID.String(), EventID: evt.ID.String(), Sender: evt.Sender.String(),
		RelatesTo: rel.EventID.String(), Key: rel.Key,
	}, true
}

// knownSender reports whether sender has a record here (a user the bot
// serves). When the store cannot tell, the sender counts as known: a
// wasted write is better than an event handled twice.
func (s *syncer) knownSender(ctx context.Context, sender id.UserID) bool {
	_, err := s.c.store.GetUser(ctx, sender.String())
	if err != nil && !errors.Is(err, actors.ErrNotFound) {
		zerolog.Ctx(ctx).Warn().Err(err).Str("sender", sender.String()).Msg("failed to read a sender's record")
	}
	return !errors.Is(err, actors.ErrNotFound)
}

// maxGapEvents bounds how far back a limited timeline is filled: two pages
// of /messages. Messages further back are not read, and the user is told.
const maxGapEvents = 100

// gap fetches the events a limited timeline left out, oldest first, by
// paging back from prevBatch until an event the bot itself sent (its reply
// or its join: everything before it was seen by a running bot) or an event
// already handled. When it reaches neither within maxGapEvents, or /messages
// fails, the room's owner is told that messages sent while the bot was away
// were not read (PRODUCT R7.2).
func (s *syncer) gap(ctx context.Context, acks acker, roomID id.RoomID, prevBatch string) []*event.Event {
	log := zerolog.Ctx(ctx).With().Str("room_id", roomID.String()).Logger()
	bot := s.c.cli.UserID
	var found []*event.Event
	from := prevBatch
	for len(found) < maxGapEvents && from != "" {
		resp, err := s.c.cli.Messages(ctx, roomID, from, "", mautrix.DirectionBackward, nil, 50)
		if err != nil {
			log.Warn().Err(err).Msg("failed to fetch the messages a limited sync left out")
			break
		}
		for _, evt := range resp.Chunk {
			// A reply check is written by a member taking over, maybe
			// before its sync has read what came before it.
			ownPost := evt.Sender == bot && evt.Type.Type != typeReplyCheck.Type
			if handled, _ := s.c.store.EventHandled(ctx, evt.ID.String()); ownPost || handled {
				slices.Reverse(found)
				log.Info().Int("events", len(found)).Msg("filled a limited timeline")
				return found
			}
			found = append(found, evt)
		}
		if resp.End == "" || len(resp.Chunk) == 0 {
			// The start of the room: nothing before it was missed.
			slices.Reverse(found)
			return found
		}
		from = resp.End
	}
	log.Warn().Int("events", len(found)).Msg("a limited timeline goes back further than the bound; telling the owner")
	s.skipped(ctx, acks, roomID)
	slices.Reverse(found)
	return found
}

// skipped tells the owner of roomID, if the bot serves one there, that
// messages sent while it was away were not read.
func (s *syncer) skipped(ctx context.Context, acks acker, roomID id.RoomID) {
	room, err := s.c.store.GetRoom(ctx, roomID.String())
	if err != nil {
		return // not a chat room of the bot's: nobody to tell
	}
	s.sink(&actors.MessagesSkipped{RoomID: roomID.String(), Owner: room.OwnerID, Ack: acks.ack("")})
}
