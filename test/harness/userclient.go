package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/matrix"
)

// timelineLimit is the sync filter's timeline limit: high, so that a burst of
// bot edits between two syncs never becomes a gap the recorder cannot see.
const timelineLimit = 1000

// UserClient is a human Matrix user for tests and the demo: a logged-in
// mautrix client with its own sync loop that records every timeline, state and
// typing event per room and wakes the Wait methods. It never uses the bot's
// code. Close stops the loop.
type UserClient struct {
	cli *mautrix.Client
	log zerolog.Logger

	cancel context.CancelFunc
	done   chan struct{} // closed when the sync loop returned
	jobs   sync.WaitGroup
	closed atomic.Bool // set by Close, to silence mautrix's "request canceled"

	mu            sync.Mutex
	changed       chan struct{} // closed and replaced on every recorded change
	loopErr       error
	synced        bool
	acceptInvites bool
	rooms         map[id.RoomID]*roomRecord
	invites       []*Invite

	// crypto is set WithCrypto.
	crypto *userCrypto
}

// roomRecord is everything the sync loop saw of one room, in arrival order.
type roomRecord struct {
	events     []*event.Event // timeline and state-section events
	seen       map[id.EventID]bool
	typing     [][]id.UserID // every m.typing update
	receipts   []Receipt     // every m.read receipt, in the order seen
	membership event.Membership
}

// Receipt is an m.read receipt: UserID has read up to EventID.
type Receipt struct {
	EventID id.EventID
	UserID  id.UserID
}

// Invite is an invitation the user received.
type Invite struct {
	RoomID   id.RoomID
	Sender   id.UserID
	IsDirect bool
	// State is the stripped state the inviting server shared (name, create…).
	State []*event.Event
	// Joined is set once the user joined the room (auto-join or otherwise).
	Joined bool
	// JoinErr is the error of the last automatic join attempt, if any.
	JoinErr error

	attempted bool // an automatic join was started for this invite
}

// RoomType is the invited room's type from its m.room.create in the invite
// state ("m.space" for a Space), "" for a plain room or when not shared.
func (inv Invite) RoomType() event.RoomType {
	var c struct {
		Type event.RoomType `json:"type"`
	}
	inv.stateContent(event.StateCreate, &c)
	return c.Type
}

// Name is the invited room's m.room.name, or its id when not shared.
func (inv Invite) Name() string {
	var c struct {
		Name string `json:"name"`
	}
	if inv.stateContent(event.StateRoomName, &c); c.Name != "" {
		return c.Name
	}
	return string(inv.RoomID)
}

func (inv Invite) stateContent(t event.Type, into any) {
	for _, e := range inv.State {
		if e.Type == t {
			_ = json.Unmarshal(e.Content.VeryRaw, into)
			return
		}
	}
}

// NewUserClient starts the sync loop of a logged-in client and waits for its
// first sync, so the rooms the user is already in are recorded on return.
// ctx bounds that first sync and provides the logger; the loop runs until
// Close.
func NewUserClient(ctx context.Context, cli *mautrix.Client, options ...ClientOption) (*UserClient, error) {
	if cli == nil || cli.AccessToken == "" || cli.UserID == "" {
		return nil, errors.New("failed to create a user client: the mautrix client is not logged in")
	}
	var opts clientOptions
	for _, o := range options {
		o(&opts)
	}
	u := &UserClient{
		cli:     cli,
		log:     zerolog.Ctx(ctx).With().Str("matrix_user", cli.UserID.String()).Logger(),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		rooms:   map[id.RoomID]*roomRecord{},
	}
	// mautrix logs the cancelled long-poll of Close as a warning; a hook drops
	// the loop's logs once Close started, so test output shows only real
	// problems. mautrix prefers the context's logger over cli.Log, so the
	// hooked logger goes into both, before the loop starts (no data race).
	quiet := zerolog.HookFunc(func(e *zerolog.Event, _ zerolog.Level, _ string) {
		if u.closed.Load() {
			e.Discard()
		}
	})
	cli.Log = cli.Log.Hook(quiet)
	loopLog := u.log.Hook(quiet)
	loopCtx, cancel := context.WithCancel(loopLog.WithContext(context.WithoutCancel(ctx)))
	u.cancel = cancel
	syncer := &recordingSyncer{DefaultSyncer: mautrix.NewDefaultSyncer(), u: u, ctx: loopCtx}
	syncer.FilterJSON = &mautrix.Filter{Room: &mautrix.RoomFilter{Timeline: &mautrix.FilterPart{Limit: timelineLimit}}}
	if opts.crypto {
		// Before the recorder: room keys and memberships first.
		uc, err := enableCrypto(ctx, cli, syncer.DefaultSyncer)
		if err != nil {
			cancel()
			return nil, err
		}
		u.crypto = uc
	}
	syncer.OnEvent(u.record)
	cli.Syncer = syncer
	go func() {
		err := cli.SyncWithContext(loopCtx)
		u.mu.Lock()
		if err == nil || loopCtx.Err() != nil {
			err = errors.New("the user client was closed")
		}
		u.loopErr = err
		u.wakeLocked()
		u.mu.Unlock()
		if loopCtx.Err() == nil {
			u.log.Error().Err(err).Msg("sync loop stopped")
		}
		close(u.done)
	}()
	if err := u.wait(ctx, "the first sync", func() (bool, error) {
		u.mu.Lock()
		defer u.mu.Unlock()
		return u.synced, nil
	}); err != nil {
		u.Close()
		return nil, err
	}
	return u, nil
}

// recordingSyncer is mautrix's DefaultSyncer (content parsing, event classes)
// plus a hook after each response and quick retries on a local server.
type recordingSyncer struct {
	*mautrix.DefaultSyncer
	u   *UserClient
	ctx context.Context
}

// ProcessResponse records the response, then wakes waiters once per sync so
// they see the whole batch at once.
func (s *recordingSyncer) ProcessResponse(ctx context.Context, res *mautrix.RespSync, since string) error {
	err := s.DefaultSyncer.ProcessResponse(ctx, res, since)
	s.u.afterSync(s.ctx, res)
	return err
}

// OnFailedSync retries quickly: the homeserver is local, and a slow retry
// only makes tests slower. An invalid token is fatal.
func (s *recordingSyncer) OnFailedSync(_ *mautrix.RespSync, err error) (time.Duration, error) {
	if errors.Is(err, mautrix.MUnknownToken) {
		return 0, err
	}
	s.u.log.Warn().Err(err).Msg("sync failed, retrying")
	return 500 * time.Millisecond, nil
}

// record is the syncer's event listener: it keeps room events and typing.
func (u *UserClient) record(_ context.Context, evt *event.Event) {
	if evt.RoomID == "" {
		return // account data, presence and to-device have no room
	}
	src := evt.Mautrix.EventSource
	u.mu.Lock()
	defer u.mu.Unlock()
	room := u.roomLocked(evt.RoomID)
	switch {
	case src&event.SourceEphemeral != 0:
		if content, ok := evt.Content.Parsed.(*event.TypingEventContent); ok && evt.Type == event.EphemeralEventTyping {
			room.typing = append(room.typing, append([]id.UserID(nil), content.UserIDs...))
		}
		if content, ok := evt.Content.Parsed.(*event.ReceiptEventContent); ok && evt.Type == event.EphemeralEventReceipt {
			for eventID, receipts := range *content {
				for userID := range receipts[event.ReceiptTypeRead] {
					room.receipts = append(room.receipts, Receipt{EventID: eventID, UserID: userID})
				}
			}
		}
	case src&event.SourceInvite != 0, src&event.SourceAccountData != 0:
		// Invites are collected per response in afterSync; room account
		// data is not part of what a test observes.
	default:
		if evt.ID == "" || room.seen[evt.ID] {
			return
		}
		room.seen[evt.ID] = true
		if evt.Type == event.EventEncrypted && u.crypto != nil {
			// Decrypted in the background (its key may come in a later
			// sync) and recorded in its place.
			placeholder := len(room.events)
			room.events = append(room.events, evt)
			u.jobs.Add(1)
			go func() {
				defer u.jobs.Done()
				u.decryptInto(evt.RoomID, placeholder, evt)
			}()
			return
		}
		room.events = append(room.events, evt)
	}
}

// decryptInto replaces the encrypted event at index i of roomID's events by
// its decrypted form; one that cannot be decrypted stays as it is.
func (u *UserClient) decryptInto(roomID id.RoomID, i int, evt *event.Event) {
	decrypted, err := u.crypto.decrypt(u.loopContext(), evt)
	if err != nil {
		u.log.Warn().Err(err).Str("event_id", evt.ID.String()).Msg("could not decrypt an event")
		return
	}
	decrypted.Mautrix.WasEncrypted = true
	u.mu.Lock()
	defer u.mu.Unlock()
	u.roomLocked(roomID).events[i] = decrypted
	u.wakeLocked()
}

// membership is the user's membership in roomID as the last sync said,
// empty if sync never mentioned the room.
func (u *UserClient) membership(roomID id.RoomID) event.Membership {
	u.mu.Lock()
	defer u.mu.Unlock()
	if room, ok := u.rooms[roomID]; ok {
		return room.membership
	}
	return ""
}

func (u *UserClient) roomLocked(roomID id.RoomID) *roomRecord {
	room, ok := u.rooms[roomID]
	if !ok {
		room = &roomRecord{seen: map[id.EventID]bool{}}
		u.rooms[roomID] = room
	}
	return room
}

// afterSync updates memberships and invites and wakes the waiters; it starts
// automatic joins outside the lock.
func (u *UserClient) afterSync(loopCtx context.Context, res *mautrix.RespSync) {
	u.mu.Lock()
	for roomID := range res.Rooms.Join {
		u.roomLocked(roomID).membership = event.MembershipJoin
		for _, inv := range u.invites {
			if inv.RoomID == roomID {
				inv.Joined = true
			}
		}
	}
	for roomID := range res.Rooms.Leave {
		u.roomLocked(roomID).membership = event.MembershipLeave
	}
	for roomID, room := range res.Rooms.Invite {
		u.roomLocked(roomID).membership = event.MembershipInvite
		u.addInviteLocked(u.inviteFrom(roomID, room.State.Events))
	}
	u.synced = true
	toJoin := u.pendingInvitesLocked()
	u.wakeLocked()
	u.mu.Unlock()
	u.join(loopCtx, toJoin)
}

// inviteFrom reads who invited us and whether it is a DM from our own
// m.room.member event in the stripped invite state.
func (u *UserClient) inviteFrom(roomID id.RoomID, state []*event.Event) *Invite {
	inv := &Invite{RoomID: roomID, State: state}
	for _, evt := range state {
		if evt.Type != event.StateMember || evt.GetStateKey() != u.cli.UserID.String() {
			continue
		}
		inv.Sender = evt.Sender
		if content, ok := evt.Content.Parsed.(*event.MemberEventContent); ok {
			inv.IsDirect = content.IsDirect
		}
	}
	return inv
}

// addInviteLocked records an invite; a room already invited and not joined
// is updated in place, because a server may repeat an invite in later syncs.
func (u *UserClient) addInviteLocked(inv *Invite) {
	for i, old := range u.invites {
		if old.RoomID == inv.RoomID && !old.Joined {
			inv.attempted, inv.JoinErr = old.attempted, old.JoinErr
			u.invites[i] = inv
			return
		}
	}
	u.invites = append(u.invites, inv)
}

// pendingInvitesLocked lists invites to join now; an invite is attempted once
// per AcceptInvites(true) or per new invite, so a failing join does not spin.
func (u *UserClient) pendingInvitesLocked() []*Invite {
	if !u.acceptInvites {
		return nil
	}
	var out []*Invite
	for _, inv := range u.invites {
		if !inv.Joined && !inv.attempted {
			inv.attempted = true
			out = append(out, inv)
		}
	}
	return out
}

// join joins invited rooms in the background; the sync loop will report the
// join, which is what waiters look for.
func (u *UserClient) join(loopCtx context.Context, invites []*Invite) {
	for _, inv := range invites {
		u.jobs.Add(1)
		go func() {
			defer u.jobs.Done()
			err := matrix.JoinInvited(loopCtx, u.cli, inv.RoomID)
			if err == nil {
				return
			}
			if loopCtx.Err() == nil {
				u.log.Error().Err(err).Stringer("room_id", inv.RoomID).Msg("failed to accept an invite")
			}
			u.mu.Lock()
			inv.JoinErr = fmt.Errorf("failed to join %s: %w", inv.RoomID, err)
			u.wakeLocked()
			u.mu.Unlock()
		}()
	}
}

// AcceptInvites turns automatic joining of invited rooms on or off. Turning it
// on also joins the invites already received.
func (u *UserClient) AcceptInvites(accept bool) {
	u.mu.Lock()
	u.acceptInvites = accept
	var toJoin []*Invite
	if accept {
		// A new AcceptInvites(true) retries the joins that failed.
		for _, inv := range u.invites {
			if !inv.Joined && inv.JoinErr != nil {
				inv.attempted, inv.JoinErr = false, nil
			}
		}
		toJoin = u.pendingInvitesLocked()
	}
	u.mu.Unlock()
	select {
	case <-u.done:
		return
	default:
	}
	u.join(u.loopContext(), toJoin)
}

// loopContext is the context of the sync loop, for background requests that
// must end with Close.
func (u *UserClient) loopContext() context.Context {
	return u.cli.Syncer.(*recordingSyncer).ctx
}

func (u *UserClient) wakeLocked() {
	close(u.changed)
	u.changed = make(chan struct{})
}

// Client returns the underlying mautrix client, for calls the helpers lack.
func (u *UserClient) Client() *mautrix.Client { return u.cli }

// UserID returns the user's Matrix ID.
func (u *UserClient) UserID() id.UserID { return u.cli.UserID }

// Close stops the sync loop and background joins and waits for them. The
// access token stays valid; it is safe to call twice.
func (u *UserClient) Close() error {
	u.closed.Store(true)
	u.cancel()
	<-u.done
	u.jobs.Wait()
	return nil
}
