package matrix

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
)

// Credentials say how the bot logs in. One of Password and AccessToken is
// required; DeviceID is optional.
type Credentials struct {
	Homeserver  string
	UserID      string
	Password    string
	AccessToken string
	DeviceID    string
	// Appservice says AccessToken is an application service's as_token.
	// It acts as the registration's sender (the bot): on Dendrite, through
	// the device Dendrite made for it at start, whose id whoami tells and
	// whose keys the crypto machine keeps.
	Appservice bool
	// NeedDevice, with Appservice, has the bot make itself a device when
	// the homeserver made none for the token (Synapse), as MSC4190 lets an
	// appservice do: encryption needs one.
	NeedDevice bool
	// Session, when set, names a session of its own among several that
	// share the store: each member of a cluster with grains and
	// encryption logs in as a device of its own (it keeps its own Olm
	// account, see CryptoOptions.Account). Empty is the bot's one session.
	Session string
}

// StateStore is what the Matrix side keeps in our Badger store: the sync
// position, the handled event ids, and the session for restarts.
// persistence.Store implements it.
type StateStore interface {
	SaveFilterID(ctx context.Context, userID, filterID string) error
	LoadFilterID(ctx context.Context, userID string) (string, error)
	SaveNextBatch(ctx context.Context, userID, nextBatch string) error
	LoadNextBatch(ctx context.Context, userID string) (string, error)
	// CommitSync marks handled as handled (for the event TTL), then stores
	// nextBatch as the sync position: the events of the responses up to it
	// are done with (see position). An empty nextBatch leaves the position
	// as it is.
	CommitSync(ctx context.Context, userID, nextBatch string, handled []string) error
	// EventHandled reports whether eventID was marked handled (within the
	// event TTL), without marking it.
	EventHandled(ctx context.Context, eventID string) (bool, error)
	// GetUser and GetRoom read the actors' records (errors wrap
	// actors.ErrNotFound when there is none): the syncer spends no write
	// on a stranger's event and finds whom to tell about skipped messages.
	GetUser(ctx context.Context, userID string) (actors.UserRecord, error)
	GetRoom(ctx context.Context, roomID string) (actors.RoomRecord, error)
	GetMeta(ctx context.Context, name string) (string, error)
	PutMeta(ctx context.Context, name, value string) error
	// AddToInbox keeps an appservice transaction's body under key until
	// RemoveFromInbox (added is false when key is kept already); Inbox
	// returns the kept ones, oldest first (see Appservice).
	AddToInbox(ctx context.Context, key string, body []byte) (added bool, err error)
	RemoveFromInbox(ctx context.Context, key string) error
	Inbox(ctx context.Context) (keys []string, bodies [][]byte, err error)
}

// Meta keys of the stored session. The access token is stored so that a
// restart reuses the device instead of piling up new ones.
const (
	metaDeviceID    = "matrix.device_id"
	metaAccessToken = "matrix.access_token"
	metaSessionUser = "matrix.session_user"
)

// sessionMeta is the meta key of a stored session's name: the bot's one
// session, or the one Credentials.Session names.
func sessionMeta(name, session string) string {
	if session == "" {
		return name
	}
	return name + "/" + session
}

// login returns a mautrix client logged in with creds: the configured access
// token, else a stored session of the same user, else a password login
// (reusing the stored or configured device id).
func login(ctx context.Context, creds Credentials, store StateStore) (*mautrix.Client, error) {
	log := zerolog.Ctx(ctx)
	hs, err := url.Parse(creds.Homeserver)
	if err != nil || hs.Host == "" {
		return nil, fmt.Errorf("invalid homeserver URL %q", creds.Homeserver)
	}
	userID := id.UserID(creds.UserID)
	cli, err := mautrix.NewClient(creds.Homeserver, userID, "")
	if err != nil {
		return nil, fmt.Errorf("failed to create Matrix client: %w", err)
	}
	cli.Log = log.With().Str("component", "mautrix").Logger()
	cli.DefaultHTTPRetries = 4
	cli.MaxHTTPBackoff = time.Minute
	withRetries(cli.Client)

	// Start-up fails fast: one attempt per request, so a wrong URL or
	// password is reported at once instead of after minutes of backoff.
	once := context.WithValue(ctx, mautrix.MaxAttemptsContextKey, 1)

	if creds.AccessToken != "" {
		cli.AccessToken = creds.AccessToken
		if err := whoami(once, cli, ""); err != nil {
			return nil, err
		}
		if creds.Appservice && creds.NeedDevice && cli.DeviceID == "" {
			if err := appserviceDevice(once, cli, creds, store); err != nil {
				return nil, err
			}
		} else if cli.DeviceID == "" {
			cli.DeviceID = id.DeviceID(creds.DeviceID)
		}
		return cli, nil
	}

	var stored [3]string
	for i, name := range []string{metaSessionUser, metaAccessToken, metaDeviceID} {
		v, err := store.GetMeta(ctx, sessionMeta(name, creds.Session))
		if err != nil && !errors.Is(err, actors.ErrNotFound) {
			return nil, fmt.Errorf("failed to read the stored Matrix session: %w", err)
		}
		stored[i] = v
	}
	storedUser, storedToken, storedDevice := stored[0], stored[1], stored[2]
	if storedUser == creds.UserID && storedToken != "" {
		cli.AccessToken = storedToken
		err := whoami(once, cli, storedDevice)
		if err == nil {
			log.Info().Str("device_id", cli.DeviceID.String()).Msg("reusing stored Matrix session")
			return cli, nil
		}
		if !errors.Is(err, mautrix.MUnknownToken) {
			return nil, err
		}
		log.Info().Msg("stored Matrix session expired, logging in again")
		cli.AccessToken = ""
	}
	device := creds.DeviceID
	if device == "" && storedUser == creds.UserID {
		device = storedDevice
	}
	resp, err := cli.Login(once, &mautrix.ReqLogin{
		Type:                     mautrix.AuthTypePassword,
		Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: creds.UserID},
		Password:                 creds.Password,
		DeviceID:                 id.DeviceID(device),
		InitialDeviceDisplayName: deviceName(creds),
		StoreCredentials:         true,
	})
	if err != nil {
		return nil, loginError(creds, err)
	}
	if resp.UserID != userID {
		return nil, fmt.Errorf("%w: logged in as %s, configured %s", ErrLogin, resp.UserID, userID)
	}
	for name, value := range map[string]string{
		metaSessionUser: creds.UserID, metaAccessToken: resp.AccessToken, metaDeviceID: resp.DeviceID.String(),
	} {
		if err := store.PutMeta(ctx, sessionMeta(name, creds.Session), value); err != nil {
			return nil, fmt.Errorf("failed to store the Matrix session: %w", err)
		}
	}
	log.Info().Str("device_id", resp.DeviceID.String()).Msg("logged in to Matrix")
	return cli, nil
}

// deviceName is the display name of a device the bot makes: users see it
// in their clients' list of the bot's devices, so a member's says which.
func deviceName(creds Credentials) string {
	if creds.Session == "" {
		return "Surfaces bot"
	}
	return "Surfaces bot (" + creds.Session + ")"
}

// appserviceDevice makes the appservice's bot a device of its own, as
// MSC4190 lets an appservice do (the registration's io.element.msc4190):
// the configured device id, else the one made at an earlier start, else a
// new one. Making it again is harmless: the homeserver keeps an existing
// device as it is. Requests then name the device (MSC3202's device_id).
func appserviceDevice(ctx context.Context, cli *mautrix.Client, creds Credentials, store StateStore) error {
	device := id.DeviceID(creds.DeviceID)
	if device == "" {
		user, err := store.GetMeta(ctx, sessionMeta(metaSessionUser, creds.Session))
		if err != nil && !errors.Is(err, actors.ErrNotFound) {
			return fmt.Errorf("failed to read the stored Matrix session: %w", err)
		}
		stored, err := store.GetMeta(ctx, sessionMeta(metaDeviceID, creds.Session))
		if err != nil && !errors.Is(err, actors.ErrNotFound) {
			return fmt.Errorf("failed to read the stored Matrix session: %w", err)
		}
		if user == creds.UserID {
			device = id.DeviceID(stored)
		}
	}
	if device == "" {
		device = id.DeviceID("SURFACES" + rand.Text()[:8]) // base32: upper case and digits
	}
	if err := cli.CreateDeviceMSC4190(ctx, device, deviceName(creds)); err != nil {
		return fmt.Errorf("%w: the homeserver made no device for the appservice's token and did not let the bot make one "+
			"(MSC4190: io.element.msc4190 in the registration, which `surfaces appservice register` writes); "+
			"or set matrix.encryption: off: %w", ErrLogin, err)
	}
	for name, value := range map[string]string{metaSessionUser: creds.UserID, metaDeviceID: device.String()} {
		if err := store.PutMeta(ctx, sessionMeta(name, creds.Session), value); err != nil {
			return fmt.Errorf("failed to store the Matrix session: %w", err)
		}
	}
	zerolog.Ctx(ctx).Info().Str("device_id", device.String()).Msg("the appservice's bot has a device of its own (MSC4190)")
	return nil
}

func whoami(ctx context.Context, cli *mautrix.Client, device string) error {
	resp, err := cli.Whoami(ctx)
	if err != nil {
		return loginError(Credentials{Homeserver: cli.HomeserverURL.String(), UserID: cli.UserID.String()}, err)
	}
	if resp.UserID != cli.UserID {
		return fmt.Errorf("%w: the access token belongs to %s, configured %s", ErrLogin, resp.UserID, cli.UserID)
	}
	cli.DeviceID = resp.DeviceID
	if cli.DeviceID == "" {
		cli.DeviceID = id.DeviceID(device)
	}
	return nil
}

// loginError names what went wrong in words an operator can act on.
func loginError(creds Credentials, err error) error {
	var netErr net.Error
	var urlErr *url.Error
	var httpErr mautrix.HTTPError
	switch {
	case errors.As(err, &httpErr) && httpErr.RespError != nil:
		return fmt.Errorf("%w as %s on %s: %s %s: %w", ErrLogin, creds.UserID, creds.Homeserver,
			httpErr.RespError.ErrCode, httpErr.RespError.Err, err)
	case errors.As(err, &netErr), errors.As(err, &urlErr):
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, creds.Homeserver, err)
	default:
		return fmt.Errorf("%w as %s on %s: %w", ErrLogin, creds.UserID, creds.Homeserver, err)
	}
}
