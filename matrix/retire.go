package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
)

// A cluster member with grains and encryption logs in as a device of its
// own, with an Olm account of its own in the shared crypto store (see
// Credentials.Session, CryptoOptions.Account). When the member is retired
// for good its device would stay on the bot's account, and the users'
// clients would go on sharing every room key with it. RetireMember takes
// it off the homeserver and out of the stores.

// RetireStore is what RetireMember reads and deletes of a member's stored
// session: the meta entries login wrote under its session name.
type RetireStore interface {
	GetMeta(ctx context.Context, name string) (string, error)
	DeleteMeta(ctx context.Context, name string) error
}

// RetireOptions say whose device RetireMember deletes, and how.
type RetireOptions struct {
	// Creds are the bot's: the homeserver, the user id and the password,
	// which deleting a device needs (user-interactive authentication).
	Creds Credentials
	// Member is the retired member's id, the name of its session.
	Member string
	// PostgresDSN is the database of the shared crypto store; empty: no
	// crypto store to clean.
	PostgresDSN string
}

// Retired says what RetireMember removed.
type Retired struct {
	// Found says the member had a stored session or keys: false for an
	// id no member ever had (a typo), or one retired already.
	Found bool
	// DeviceID is the member's device, deleted from the homeserver; empty
	// when it had none of its own (encryption or grains off).
	DeviceID string
	// CryptoRows counts the rows of its Olm account, sessions and room
	// keys deleted from the crypto store.
	CryptoRows int64
}

// RetireMember deletes the device member logged in as from the bot's
// account (the users' clients stop sharing room keys with it), then its
// Olm account from the crypto store, then its stored session. Each step
// is safe to repeat, so a run that failed halfway can be run again. The
// member must not be running: the caller holds its lock
// (pgstore.Store.Retire).
func RetireMember(ctx context.Context, store RetireStore, opts RetireOptions) (Retired, error) {
	if opts.Member == "" {
		return Retired{}, errors.New("failed to retire a member: no member id")
	}
	var out Retired
	meta := func(name string) (string, error) {
		v, err := store.GetMeta(ctx, sessionMeta(name, opts.Member))
		if errors.Is(err, actors.ErrNotFound) {
			return "", nil
		}
		return v, err
	}
	user, err := meta(metaSessionUser)
	if err != nil {
		return out, fmt.Errorf("failed to read member %s's session: %w", opts.Member, err)
	}
	device, err := meta(metaDeviceID)
	if err != nil {
		return out, fmt.Errorf("failed to read member %s's session: %w", opts.Member, err)
	}
	out.Found = user != "" || device != ""
	if device != "" {
		if user != "" && user != opts.Creds.UserID {
			return out, fmt.Errorf("failed to retire member %s: its device %s is %s's, the bot is %s", opts.Member, device, user, opts.Creds.UserID)
		}
		if err := deleteDevice(ctx, opts.Creds, opts.Member, id.DeviceID(device)); err != nil {
			return out, err
		}
		out.DeviceID = device
	}
	if opts.PostgresDSN != "" {
		n, err := forgetCryptoAccount(ctx, opts.PostgresDSN, opts.Creds.UserID+"/"+opts.Member)
		if err != nil {
			return out, err
		}
		out.CryptoRows = n
		out.Found = out.Found || n > 0
	}
	for _, name := range []string{metaAccessToken, metaDeviceID, metaSessionUser} {
		if err := store.DeleteMeta(ctx, sessionMeta(name, opts.Member)); err != nil && !errors.Is(err, actors.ErrNotFound) {
			return out, fmt.Errorf("failed to delete member %s's stored session: %w", opts.Member, err)
		}
	}
	return out, nil
}

// passwordAuth answers user-interactive authentication with the password.
type passwordAuth struct {
	mautrix.BaseAuthData
	Identifier mautrix.UserIdentifier `json:"identifier"`
	Password   string                 `json:"password"`
}

// deleteDevice logs in with the password onto device (so that the request
// needs no other device, and works whether or not the member's stored
// token still does), then deletes it, answering the homeserver's
// user-interactive authentication with the password. A device that is
// gone already is no error. On a run after one that deleted the device
// but failed later, the login makes the device again for a moment (a
// homeserver makes a device a password login names): the users' clients
// see the bot's device list change twice, and no key is shared with it.
func deleteDevice(ctx context.Context, creds Credentials, member string, device id.DeviceID) error {
	if creds.Password == "" {
		return fmt.Errorf("%w: deleting member %s's device %s needs matrix.password", ErrLogin, member, device)
	}
	if u, err := url.Parse(creds.Homeserver); err != nil || u.Host == "" {
		return fmt.Errorf("invalid homeserver URL %q", creds.Homeserver)
	}
	cli, err := mautrix.NewClient(creds.Homeserver, id.UserID(creds.UserID), "")
	if err != nil {
		return fmt.Errorf("failed to create Matrix client: %w", err)
	}
	cli.Log = zerolog.Ctx(ctx).With().Str("component", "mautrix").Logger()
	once := context.WithValue(ctx, mautrix.MaxAttemptsContextKey, 1)
	_, err = cli.Login(once, &mautrix.ReqLogin{
		Type:                     mautrix.AuthTypePassword,
		Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: creds.UserID},
		Password:                 creds.Password,
		DeviceID:                 device,
		InitialDeviceDisplayName: deviceName(Credentials{Session: member}),
		StoreCredentials:         true,
	})
	if err != nil {
		return loginError(creds, err)
	}
	// The first request asks which authentication the homeserver wants
	// and opens its session; the second answers it with the password.
	deviceURL := cli.BuildClientURL("v3", "devices", device)
	content, err := cli.MakeFullRequest(ctx, mautrix.FullRequest{
		Method: http.MethodDelete, URL: deviceURL, RequestJSON: &mautrix.ReqDeleteDevice[any]{},
	})
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.Response != nil && httpErr.Response.StatusCode == http.StatusUnauthorized {
		var uia mautrix.RespUserInteractive
		if jerr := json.Unmarshal(content, &uia); jerr != nil || uia.Session == "" {
			return fmt.Errorf("failed to delete device %s: the homeserver asked for no authentication it can be given: %w", device, err)
		}
		_, err = cli.MakeFullRequest(ctx, mautrix.FullRequest{
			Method: http.MethodDelete, URL: deviceURL,
			RequestJSON: &mautrix.ReqDeleteDevice[passwordAuth]{Auth: passwordAuth{
				BaseAuthData: mautrix.BaseAuthData{Type: mautrix.AuthTypePassword, Session: uia.Session},
				Identifier:   mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: creds.UserID},
				Password:     creds.Password,
			}},
			// The body holds the password: mautrix must not log it
			// when the request fails.
			SensitiveContent: true,
		})
	}
	if err != nil && !errors.Is(err, mautrix.MNotFound) {
		return fmt.Errorf("failed to delete device %s: %w", device, err)
	}
	return nil
}

// accountTables are the crypto store's tables keyed by account: the Olm
// account, its sessions with the users' devices, the room keys it was
// given and made, and its secrets (crypto_olm_message_hash goes with the
// account, ON DELETE CASCADE; crypto_megolm_outbound_session_shared, keyed
// by the room keys it made, goes first). Device lists, room state and
// crypto_message_index (keyed by a room key's session id, which every
// member given that key shares) stay.
var accountTables = []string{
	"crypto_olm_session", "crypto_megolm_inbound_session", "crypto_megolm_outbound_session",
	"crypto_secrets", "crypto_account",
}

// forgetCryptoAccount deletes account's rows from the crypto store in dsn's
// database, in one transaction; a store never set up has none.
func forgetCryptoAccount(ctx context.Context, dsn, account string) (int64, error) {
	db, err := openCryptoPostgres(dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	tx, err := db.RawDB.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("failed to forget the Olm account %s: %w", account, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var total int64
	for _, table := range accountTables {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil {
			return 0, fmt.Errorf("failed to forget the Olm account %s: %w", account, err)
		}
		if !exists {
			continue
		}
		if table == "crypto_megolm_outbound_session" {
			res, err := tx.ExecContext(ctx, `DELETE FROM crypto_megolm_outbound_session_shared WHERE session_id IN
				(SELECT session_id FROM crypto_megolm_outbound_session WHERE account_id = $1)`, account)
			if err != nil {
				return 0, fmt.Errorf("failed to forget the Olm account %s in crypto_megolm_outbound_session_shared: %w", account, err)
			}
			n, _ := res.RowsAffected()
			total += n
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE account_id = $1`, account)
		if err != nil {
			return 0, fmt.Errorf("failed to forget the Olm account %s in %s: %w", account, table, err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("failed to forget the Olm account %s: %w", account, err)
	}
	return total, nil
}
