package matrix

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // pgx's database/sql driver, registered as "pgx"
	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/sqlstatestore"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// Encryption policies (matrix.encryption, PRODUCT R10.2).
const (
	// EncryptionOff keeps the bot out of encrypted rooms: an encrypted
	// message gets a notice saying so.
	EncryptionOff = "off"
	// EncryptionAllowed reads and answers in encrypted rooms users made
	// (an encrypted DM); the rooms the bot makes are not encrypted.
	EncryptionAllowed = "allowed"
	// EncryptionDefault also encrypts the chat rooms the bot makes (not
	// the Space, whose state is all it holds).
	EncryptionDefault = "default"
)

// DefaultKeyWait is how long a message whose keys are missing waits for
// them, after the key request, before the user is asked to send it again.
const DefaultKeyWait = 30 * time.Second

// CryptoOptions configure end-to-end encryption.
type CryptoOptions struct {
	// Policy is EncryptionAllowed or EncryptionDefault (EncryptionOff
	// means EnableCrypto is not called).
	Policy string
	// Path is the SQLite file holding the crypto and room-state stores,
	// next to the Badger directory; it is created when missing.
	Path string
	// PostgresDSN, when set, keeps those stores in this PostgreSQL
	// database instead of Path (persistence.backend postgres: the
	// records' database; the stores' tables are prefixed crypto_ and mx_).
	PostgresDSN string
	// PickleKey encrypts the Olm account and sessions in the store.
	PickleKey string
	// KeyWait is how long a message that cannot be decrypted waits for its
	// keys after the key request (DefaultKeyWait when 0).
	KeyWait time.Duration
	// Account, when set, names this device's Olm account among several in
	// one store: each member of a cluster with grains logs in as a device
	// of its own (Credentials.Session) and encrypts what its rooms send
	// with it (see memberCryptoStore). Empty is the bot's one device.
	Account string
}

// ErrCryptoStore says the crypto store does not belong to the logged-in
// device: it must be reset together with the session (a new device).
var ErrCryptoStore = errors.New("the crypto store does not match the Matrix session")

// cryptoState is the client's end-to-end encryption: the Olm machine on the
// SQL crypto store, the room-state store it reads memberships and
// encryption settings from, and the wait for missing keys. It implements
// mautrix.CryptoHelper, so that mautrix encrypts what the bot sends into an
// encrypted room (messages, edits, notices, files) and leaves what must stay
// plain (typing, receipts, reactions, state events). It is safe for
// concurrent use.
type cryptoState struct {
	cli     *mautrix.Client
	mach    *crypto.OlmMachine
	db      *dbutil.Database
	state   *roomStates
	policy  string
	keyWait time.Duration
	// newDevice is set when the store held no Olm account: the bot's
	// device has keys nobody saw before.
	newDevice bool

	// membersMu guards fetched: rooms whose member list was loaded in
	// full this run, so that room keys reach every member.
	membersMu sync.Mutex
	fetched   map[id.RoomID]bool
	// requested holds the sessions whose keys were asked for this run
	// (id.SessionID → struct{}): one request per missing key, however many
	// messages wait for it.
	requested sync.Map
}

var _ mautrix.CryptoHelper = (*cryptoState)(nil)

// openCryptoDB opens the SQLite file at path with the pure-Go driver:
// foreign keys on, write-ahead log, full sync (a key handed out must survive
// a crash), and immediate write transactions so that two writers wait for
// each other instead of failing.
func openCryptoDB(path string) (*dbutil.Database, error) {
	q := url.Values{}
	for _, p := range []string{"foreign_keys(1)", "journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	raw, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("failed to open the crypto store %s: %w", path, err)
	}
	raw.SetMaxOpenConns(4)
	db, err := dbutil.NewWithDB(raw, "sqlite3")
	if err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("failed to open the crypto store %s: %w", path, err)
	}
	return db, nil
}

// openCryptoPostgres opens the PostgreSQL database dsn names for the
// crypto and room-state stores, through pgx's database/sql driver.
func openCryptoPostgres(dsn string) (*dbutil.Database, error) {
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		// The driver's message may quote the DSN, password included.
		return nil, errors.New("failed to open the crypto store in PostgreSQL: the DSN does not parse")
	}
	raw.SetMaxOpenConns(4)
	db, err := dbutil.NewWithDB(raw, "postgres")
	if err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("failed to open the crypto store in PostgreSQL: %w", err)
	}
	return db, nil
}

// EnableCrypto turns end-to-end encryption on (PRODUCT R10): it opens or
// creates the stores at opts.Path, loads or creates the device's Olm
// account and makes sure its keys are on the homeserver. Call it after
// Connect and before Run. NewDevice reports afterwards whether the account
// is new.
func (c *Client) EnableCrypto(ctx context.Context, opts CryptoOptions) error {
	log := zerolog.Ctx(ctx).With().Str("component", "crypto").Logger()
	if opts.PickleKey == "" {
		return errors.New("failed to enable encryption: no pickle key")
	}
	open := func() (*dbutil.Database, error) { return openCryptoDB(opts.Path) }
	if opts.PostgresDSN != "" {
		open = func() (*dbutil.Database, error) { return openCryptoPostgres(opts.PostgresDSN) }
	}
	db, err := open()
	if err != nil {
		return err
	}
	db.Log = dbutil.ZeroLogger(log)
	cs, err := newCryptoState(ctx, c.cli, db, opts, log)
	if err != nil {
		_ = db.Close()
		return err
	}
	c.crypto = cs
	c.cli.StateStore = cs.state
	c.cli.Crypto = cs
	// A message waiting for its room key holds its ack that long: the
	// sync position must wait for it rather than go past it.
	if wait := cs.keyWait + 30*time.Second; wait > c.pos.wait {
		c.pos.wait = wait
	}
	return nil
}

func newCryptoState(ctx context.Context, cli *mautrix.Client, db *dbutil.Database, opts CryptoOptions, log zerolog.Logger) (*cryptoState, error) {
	state := sqlstatestore.NewSQLStateStore(db, dbutil.ZeroLogger(log.With().Str("db_section", "matrix_state").Logger()), false)
	if err := state.Upgrade(ctx); err != nil {
		return nil, fmt.Errorf("failed to upgrade the room-state store: %w", err)
	}
	accountID := cli.UserID.String()
	if opts.Account != "" {
		accountID += "/" + opts.Account
	}
	store := crypto.NewSQLCryptoStore(db, dbutil.ZeroLogger(log.With().Str("db_section", "crypto").Logger()),
		accountID, cli.DeviceID, []byte(opts.PickleKey))
	if err := store.DB.Upgrade(ctx); err != nil {
		return nil, fmt.Errorf("failed to upgrade the crypto store: %w", err)
	}
	stored, err := store.FindDeviceID(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to read the crypto store's device: %w", err)
	}
	if stored != "" && stored != cli.DeviceID {
		return nil, fmt.Errorf("%w: it holds the keys of device %s, the session is device %s", ErrCryptoStore, stored, cli.DeviceID)
	}
	var machStore crypto.Store = store
	if opts.Account != "" {
		machStore = &memberCryptoStore{SQLCryptoStore: store, user: cli.UserID}
	}
	mach := crypto.NewOlmMachine(cli, &log, machStore, state)
	if err := mach.Load(ctx); err != nil {
		return nil, fmt.Errorf("failed to load the Olm account: %w", err)
	}
	cs := &cryptoState{
		cli: cli, mach: mach, db: db, state: &roomStates{SQLStateStore: state, cli: cli}, policy: opts.Policy,
		keyWait: opts.KeyWait, fetched: map[id.RoomID]bool{},
	}
	if cs.keyWait <= 0 {
		cs.keyWait = DefaultKeyWait
	}
	if err := cs.publishDeviceKeys(ctx); err != nil {
		return nil, err
	}
	return cs, nil
}

// publishDeviceKeys makes sure the device's identity keys on the homeserver
// are the store's: uploads them for a new account, and refuses to go on
// when the server holds other keys for this device (the store was lost but
// the device kept, e.g. with a configured access token).
func (cs *cryptoState) publishDeviceKeys(ctx context.Context) error {
	cli := cs.cli
	resp, err := cli.QueryKeys(ctx, &mautrix.ReqQueryKeys{
		DeviceKeys: map[id.UserID]mautrix.DeviceIDList{cli.UserID: {cli.DeviceID}},
	})
	if err != nil {
		return fmt.Errorf("failed to query the device's keys: %w", err)
	}
	shared := cs.mach.GetAccount().Shared
	device, onServer := resp.DeviceKeys[cli.UserID][cli.DeviceID]
	onServer = onServer && len(device.Keys) > 0
	switch {
	case !onServer && !shared:
		cs.newDevice = true
		if err := cs.mach.ShareKeys(ctx, -1); err != nil {
			return fmt.Errorf("failed to upload the device's keys: %w", err)
		}
		zerolog.Ctx(ctx).Info().Str("device_id", cli.DeviceID.String()).Msg("new encryption keys uploaded for the bot's device")
		return nil
	case !onServer:
		return fmt.Errorf("%w: the device's keys are gone from the homeserver", ErrCryptoStore)
	case !shared && device.Keys.GetEd25519(cli.DeviceID) == cs.mach.OwnIdentity().SigningKey &&
		device.Keys.GetCurve25519(cli.DeviceID) == cs.mach.OwnIdentity().IdentityKey:
		// The upload went through but a stop came before the store noted
		// it: the keys on the server are the store's own.
		account := cs.mach.GetAccount()
		account.Shared = true
		if err := cs.mach.CryptoStore.PutAccount(ctx, account); err != nil {
			return fmt.Errorf("failed to note the device's keys as uploaded: %w", err)
		}
	case !shared:
		return fmt.Errorf("%w: device %s has keys on the homeserver that the store does not hold (log in as a new device)", ErrCryptoStore, cli.DeviceID)
	case device.Keys.GetEd25519(cli.DeviceID) != cs.mach.OwnIdentity().SigningKey:
		return fmt.Errorf("%w: device %s has another identity key on the homeserver", ErrCryptoStore, cli.DeviceID)
	}
	return nil
}

// NewDevice reports whether EnableCrypto created the device's encryption
// keys (a first start with encryption, or a lost state directory).
func (c *Client) NewDevice() bool { return c.crypto != nil && c.crypto.newDevice }

// CloseCrypto closes the crypto store; call it after Run returned.
func (c *Client) CloseCrypto() error {
	if c.crypto == nil {
		return nil
	}
	if err := c.crypto.db.Close(); err != nil {
		return fmt.Errorf("failed to close the crypto store: %w", err)
	}
	return nil
}

// Init implements mautrix.CryptoHelper; EnableCrypto did the work.
func (cs *cryptoState) Init(context.Context) error { return nil }

// Encrypt implements mautrix.CryptoHelper: it encrypts content for roomID,
// sharing a new room key with every member first when the session is
// missing, expired or not shared with everyone yet.
func (cs *cryptoState) Encrypt(ctx context.Context, roomID id.RoomID, evtType event.Type, content any) (*event.EncryptedEventContent, error) {
	encrypted, err := cs.mach.EncryptMegolmEvent(ctx, roomID, evtType, content)
	if err == nil {
		return encrypted, nil
	}
	if !errors.Is(err, crypto.ErrSessionExpired) && !errors.Is(err, crypto.ErrNoGroupSession) && !errors.Is(err, crypto.ErrSessionNotShared) {
		return nil, fmt.Errorf("failed to encrypt for %s: %w", roomID, err)
	}
	members, err := cs.members(ctx, roomID)
	if err != nil {
		return nil, err
	}
	if err := cs.mach.ShareGroupSession(ctx, roomID, members); err != nil {
		return nil, fmt.Errorf("failed to share the room key of %s: %w", roomID, err)
	}
	encrypted, err = cs.mach.EncryptMegolmEvent(ctx, roomID, evtType, content)
	if err != nil {
		return nil, fmt.Errorf("failed to encrypt for %s after sharing the room key: %w", roomID, err)
	}
	return encrypted, nil
}

// members returns the joined and invited members of roomID, loading the
// full list from the homeserver once per run (the sync filter loads
// members lazily, and a member missing here would get no room key).
func (cs *cryptoState) members(ctx context.Context, roomID id.RoomID) ([]id.UserID, error) {
	cs.membersMu.Lock()
	fetched := cs.fetched[roomID]
	cs.membersMu.Unlock()
	if !fetched {
		if err := cs.fetchMembers(ctx, roomID); err != nil {
			return nil, err
		}
		cs.membersMu.Lock()
		cs.fetched[roomID] = true
		cs.membersMu.Unlock()
	}
	members, err := cs.state.GetRoomJoinedOrInvitedMembers(ctx, roomID)
	if err != nil {
		return nil, fmt.Errorf("failed to read the members of %s: %w", roomID, err)
	}
	return members, nil
}

// fetchMembers loads roomID's member list from the homeserver into the
// state store, keeping the joins and invites the store knew of that the
// list does not mention at all. mautrix replaces the store's list with the
// homeserver's, and Dendrite answers /members from its sync API, which
// takes in new events asynchronously: right after the bot created a chat
// with the user invited (which mautrix recorded), a busy Dendrite listed
// the bot alone, and the welcome's room key went to nobody else. The user
// could never read it (seen in CI: "no welcome in Chat 1"). A member the
// list does mention (left, banned) is taken as the list says.
func (cs *cryptoState) fetchMembers(ctx context.Context, roomID id.RoomID) error {
	known := map[id.UserID]event.Membership{}
	if before, err := cs.state.GetRoomJoinedOrInvitedMembers(ctx, roomID); err == nil {
		for _, u := range before {
			if m, err := cs.state.GetMembership(ctx, roomID, u); err == nil {
				known[u] = m
			}
		}
	}
	resp, err := cs.cli.Members(ctx, roomID)
	if err != nil {
		return fmt.Errorf("failed to load the members of %s: %w", roomID, err)
	}
	for _, evt := range resp.Chunk {
		if evt.StateKey != nil {
			delete(known, id.UserID(*evt.StateKey))
		}
	}
	for u, m := range known {
		zerolog.Ctx(ctx).Debug().Stringer("room_id", roomID).Stringer("user_id", u).Str("membership", string(m)).
			Msg("the homeserver's member list lags a membership the bot knows; keeping it")
		if err := cs.state.SetMembership(ctx, roomID, u, m); err != nil {
			return fmt.Errorf("failed to keep the membership of %s in %s: %w", u, roomID, err)
		}
	}
	return nil
}

// Decrypt implements mautrix.CryptoHelper.
func (cs *cryptoState) Decrypt(ctx context.Context, evt *event.Event) (*event.Event, error) {
	return cs.mach.DecryptMegolmEvent(ctx, evt)
}

// WaitForSession implements mautrix.CryptoHelper.
func (cs *cryptoState) WaitForSession(ctx context.Context, roomID id.RoomID, senderKey id.SenderKey, sessionID id.SessionID, timeout time.Duration) bool {
	return cs.mach.WaitForSession(ctx, roomID, senderKey, sessionID, timeout)
}

// RequestSession implements mautrix.CryptoHelper: it asks the sender's
// device (every device when unknown) and the bot's own for the room key.
func (cs *cryptoState) RequestSession(ctx context.Context, roomID id.RoomID, senderKey id.SenderKey, sessionID id.SessionID, userID id.UserID, deviceID id.DeviceID) {
	if _, asked := cs.requested.LoadOrStore(sessionID, struct{}{}); asked {
		return
	}
	if deviceID == "" {
		deviceID = "*"
	}
	err := cs.mach.SendRoomKeyRequest(ctx, roomID, senderKey, sessionID, "", map[id.UserID][]id.DeviceID{
		userID:        {deviceID},
		cs.cli.UserID: {"*"},
	})
	log := zerolog.Ctx(ctx).With().Str("room_id", roomID.String()).Str("session_id", sessionID.String()).Str("sender", userID.String()).Logger()
	if err != nil {
		log.Warn().Err(err).Msg("failed to send a room key request")
		return
	}
	log.Info().Msg("room key requested")
}

// roomEncrypted reports whether roomID is encrypted, as far as the state
// store knows.
func (cs *cryptoState) roomEncrypted(ctx context.Context, roomID id.RoomID) bool {
	ok, err := cs.state.IsEncrypted(ctx, roomID)
	return err == nil && ok
}
