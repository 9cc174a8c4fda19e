package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// ClientOption changes how NewUserClient sets a client up.
type ClientOption func(*clientOptions)

type clientOptions struct{ crypto bool }

// WithCrypto makes the client encrypt like Element does: it has its own
// device keys (an Olm machine on in-memory stores, gone when the client
// closes), creates DMs encrypted, encrypts what it sends into encrypted
// rooms and decrypts what it receives there. Messages then show decrypted
// events; Message.Encrypted says a message arrived encrypted.
func WithCrypto() ClientOption { return func(o *clientOptions) { o.crypto = true } }

// userCrypto is a test user's end-to-end encryption. It implements
// mautrix.CryptoHelper so that mautrix encrypts the client's sends.
type userCrypto struct {
	cli   *mautrix.Client
	mach  *crypto.OlmMachine
	state *mautrix.MemoryStateStore

	mu      sync.Mutex
	fetched map[id.RoomID]bool
}

var _ mautrix.CryptoHelper = (*userCrypto)(nil)

// enableCrypto gives cli a new device identity before its sync loop starts.
func enableCrypto(ctx context.Context, cli *mautrix.Client, syncer *mautrix.DefaultSyncer) (*userCrypto, error) {
	state := mautrix.NewMemoryStateStore().(*mautrix.MemoryStateStore)
	cli.StateStore = state
	log := cli.Log
	mach := crypto.NewOlmMachine(cli, &log, crypto.NewMemoryStore(nil), state)
	if err := mach.Load(ctx); err != nil {
		return nil, fmt.Errorf("failed to create the Olm account of %s: %w", cli.UserID, err)
	}
	if err := mach.ShareKeys(ctx, -1); err != nil {
		return nil, fmt.Errorf("failed to upload the device keys of %s: %w", cli.UserID, err)
	}
	uc := &userCrypto{cli: cli, mach: mach, state: state, fetched: map[id.RoomID]bool{}}
	syncer.OnSync(mach.ProcessSyncResponse)
	syncer.OnEvent(cli.StateStoreSyncHandler)
	syncer.OnEventType(event.StateMember, mach.HandleMemberEvent)
	cli.Crypto = uc
	return uc, nil
}

// decrypt returns the decrypted form of an m.room.encrypted event, waiting
// a little for its room key (it travels to-device, maybe in a later sync).
func (uc *userCrypto) decrypt(ctx context.Context, evt *event.Event) (*event.Event, error) {
	if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
		return nil, err
	}
	decrypted, err := uc.mach.DecryptMegolmEvent(ctx, evt)
	if errors.Is(err, crypto.ErrNoSessionFound) {
		content := evt.Content.AsEncrypted()
		if uc.mach.WaitForSession(ctx, evt.RoomID, content.SenderKey, content.SessionID, 20*time.Second) {
			decrypted, err = uc.mach.DecryptMegolmEvent(ctx, evt)
		}
	}
	return decrypted, err
}

// Init implements mautrix.CryptoHelper.
func (uc *userCrypto) Init(context.Context) error { return nil }

// Encrypt implements mautrix.CryptoHelper, sharing a room key with every
// member first when needed.
func (uc *userCrypto) Encrypt(ctx context.Context, roomID id.RoomID, evtType event.Type, content any) (*event.EncryptedEventContent, error) {
	encrypted, err := uc.mach.EncryptMegolmEvent(ctx, roomID, evtType, content)
	if err == nil {
		return encrypted, nil
	}
	if !errors.Is(err, crypto.ErrSessionExpired) && !errors.Is(err, crypto.ErrNoGroupSession) && !errors.Is(err, crypto.ErrSessionNotShared) {
		return nil, err
	}
	uc.mu.Lock()
	fetched := uc.fetched[roomID]
	uc.mu.Unlock()
	if !fetched {
		if _, err := uc.cli.Members(ctx, roomID); err != nil {
			return nil, fmt.Errorf("failed to load the members of %s: %w", roomID, err)
		}
		uc.mu.Lock()
		uc.fetched[roomID] = true
		uc.mu.Unlock()
	}
	members, err := uc.state.GetRoomJoinedOrInvitedMembers(ctx, roomID)
	if err != nil {
		return nil, err
	}
	if err := uc.mach.ShareGroupSession(ctx, roomID, members); err != nil {
		return nil, fmt.Errorf("failed to share a room key in %s: %w", roomID, err)
	}
	return uc.mach.EncryptMegolmEvent(ctx, roomID, evtType, content)
}

// Decrypt implements mautrix.CryptoHelper.
func (uc *userCrypto) Decrypt(ctx context.Context, evt *event.Event) (*event.Event, error) {
	return uc.mach.DecryptMegolmEvent(ctx, evt)
}

// WaitForSession implements mautrix.CryptoHelper.
func (uc *userCrypto) WaitForSession(ctx context.Context, roomID id.RoomID, senderKey id.SenderKey, sessionID id.SessionID, timeout time.Duration) bool {
	return uc.mach.WaitForSession(ctx, roomID, senderKey, sessionID, timeout)
}

// RequestSession implements mautrix.CryptoHelper.
func (uc *userCrypto) RequestSession(ctx context.Context, roomID id.RoomID, senderKey id.SenderKey, sessionID id.SessionID, userID id.UserID, deviceID id.DeviceID) {
	_ = uc.mach.SendRoomKeyRequest(ctx, roomID, senderKey, sessionID, "", map[id.UserID][]id.DeviceID{userID: {deviceID}})
}

// SendTextUnshared sends text into an encrypted room with a room key the
// client never shares: nobody else can decrypt it, as when a client's key
// sharing failed. It is for testing what the bot does then.
func (u *UserClient) SendTextUnshared(ctx context.Context, roomID id.RoomID, text string) (id.EventID, error) {
	if u.crypto == nil {
		return "", errors.New("failed to send an undecryptable message: the client has no crypto (WithCrypto)")
	}
	session, err := crypto.NewOutboundGroupSession(roomID, nil, nil)
	if err != nil {
		return "", err
	}
	session.Shared = true // it is not, on purpose; mautrix checks the flag
	plaintext, err := json.Marshal(map[string]any{
		"room_id": roomID, "type": event.EventMessage.Type,
		"content": &event.MessageEventContent{MsgType: event.MsgText, Body: text},
	})
	if err != nil {
		return "", err
	}
	ciphertext, err := session.Encrypt(plaintext)
	if err != nil {
		return "", err
	}
	content := &event.EncryptedEventContent{
		Algorithm: id.AlgorithmMegolmV1, SessionID: session.ID(), MegolmCiphertext: ciphertext,
		DeviceID: u.cli.DeviceID, SenderKey: u.crypto.mach.OwnIdentity().IdentityKey,
	}
	resp, err := u.cli.SendMessageEvent(ctx, roomID, event.EventEncrypted, content)
	if err != nil {
		return "", fmt.Errorf("failed to send an undecryptable message to %s: %w", roomID, err)
	}
	return resp.EventID, nil
}

// KnowDevices makes the client fetch users' device lists now, as it does
// when a sync says they changed, and start new room keys for the rooms it
// shares with them: the next message is encrypted for a device that has
// just appeared (the bot's new one, after it started with new keys) instead
// of racing the sync that would announce it.
func (u *UserClient) KnowDevices(ctx context.Context, users ...id.UserID) error {
	if u.crypto == nil {
		return errors.New("failed to fetch device lists: the client has no crypto (WithCrypto)")
	}
	if _, err := u.crypto.mach.FetchKeys(ctx, users, true); err != nil {
		return fmt.Errorf("failed to fetch the device lists of %v: %w", users, err)
	}
	for _, user := range users {
		u.crypto.mach.OnDevicesChanged(ctx, user)
	}
	return nil
}
