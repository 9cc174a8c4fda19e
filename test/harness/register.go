package harness

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/matrix"
)

// adminRegisterPath is Synapse's shared-secret registration API, which
// Dendrite implements too; it creates users without interactive auth.
const adminRegisterPath = "/_synapse/admin/v1/register"

// registerRequest is the body of POST /_synapse/admin/v1/register.
type registerRequest struct {
	Nonce    string `json:"nonce"`
	Username string `json:"username"`
	Password string `json:"password"`
	Admin    bool   `json:"admin"`
	MAC      string `json:"mac"`
}

// registerMAC is HMAC-SHA1 over "nonce\0user\0password\0admin|notadmin",
// keyed by registration_shared_secret, hex encoded.
func registerMAC(secret, nonce, user, password string, admin bool) string {
	mac := hmac.New(sha1.New, []byte(secret))
	role := "notadmin"
	if admin {
		role = "admin"
	}
	mac.Write([]byte(nonce + "\x00" + user + "\x00" + password + "\x00" + role))
	return hex.EncodeToString(mac.Sum(nil))
}

// RegisterUser creates the account @localpart:server with the shared-secret
// admin API and returns its user ID. Dendrite wants passwords of at least 8
// characters and lowercase localparts.
func (hs *Homeserver) RegisterUser(ctx context.Context, localpart, password string, admin bool) (id.UserID, error) {
	if localpart == "" || strings.ContainsAny(localpart, ":@ ") {
		return "", fmt.Errorf("failed to register: invalid localpart %q", localpart)
	}
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	if err := hs.adminCall(ctx, http.MethodGet, nil, &nonce); err != nil {
		return "", fmt.Errorf("failed to get a registration nonce: %w", err)
	}
	body := registerRequest{
		Nonce:    nonce.Nonce,
		Username: localpart,
		Password: password,
		Admin:    admin,
		MAC:      registerMAC(hs.sharedSecret, nonce.Nonce, localpart, password, admin),
	}
	var resp struct {
		UserID id.UserID `json:"user_id"`
	}
	if err := hs.adminCall(ctx, http.MethodPost, body, &resp); err != nil {
		return "", fmt.Errorf("failed to register %s: %w", localpart, err)
	}
	if resp.UserID == "" {
		return "", fmt.Errorf("failed to register %s: the response has no user_id", localpart)
	}
	return resp.UserID, nil
}

// adminCall sends one request to the registration API and decodes the JSON
// answer into out; non-2xx answers become errors carrying the body.
func (hs *Homeserver) adminCall(ctx context.Context, method string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("failed to encode the request: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, hs.url+adminRegisterPath, body)
	if err != nil {
		return fmt.Errorf("failed to build the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hs.http.Do(req)
	if err != nil {
		return fmt.Errorf("failed to call %s: %w", adminRegisterPath, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("failed to read the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("failed to decode the answer %q: %w", data, err)
	}
	return nil
}

// Login logs userID in with a password and returns a mautrix client holding
// the access token. The client logs to the context's logger at info level and
// above (mautrix logs every request at debug).
func (hs *Homeserver) Login(ctx context.Context, userID id.UserID, password string) (*mautrix.Client, error) {
	cli, err := mautrix.NewClient(hs.url, "", "")
	if err != nil {
		return nil, fmt.Errorf("failed to create a client for %s: %w", userID, err)
	}
	log := zerolog.Ctx(ctx).With().Str("matrix_user", userID.String()).Logger()
	if log.GetLevel() < zerolog.InfoLevel {
		log = log.Level(zerolog.InfoLevel)
	}
	cli.Log = log
	// A rate-limited homeserver (StackOptions.HomeserverRateLimited)
	// answers a busy test user 429 too: wait and retry, as a client does.
	cli.DefaultHTTPRetries = 5
	// Dendrite on SQLite answers 500 ("database is locked (517)") to some
	// writes while it is busy; a client such as Element sends a message
	// again. Every PUT here is idempotent (a send carries its
	// transaction id), so it is tried again.
	transport := cli.Client.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	cli.Client.Transport = testUserPUTRetry.Transport(transport)
	_, err = cli.Login(ctx, &mautrix.ReqLogin{
		Type:                     mautrix.AuthTypePassword,
		Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: userID.String()},
		Password:                 password,
		InitialDeviceDisplayName: "surfaces test harness",
		StoreCredentials:         true,
	})
	if err != nil {
		return nil, fmt.Errorf("failed to log in as %s: %w", userID, err)
	}
	return cli, nil
}

// NewUser registers @localpart with a random password, logs in and returns a
// syncing UserClient; the caller must Close it. Use RegisterUser and Login
// for accounts whose password the test needs.
func (hs *Homeserver) NewUser(ctx context.Context, localpart string) (*UserClient, error) {
	password, err := randomPassword()
	if err != nil {
		return nil, err
	}
	userID, err := hs.RegisterUser(ctx, localpart, password, false)
	if err != nil {
		return nil, err
	}
	cli, err := hs.Login(ctx, userID, password)
	if err != nil {
		return nil, err
	}
	return NewUserClient(ctx, cli)
}

func randomPassword() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("failed to make a password: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// testUserPUTRetry is the test users' schedule for a PUT that got 500: up
// to 8 more tries, 200 ms apart and doubling up to 2 s (about 11 s in all:
// Dendrite on SQLite was seen refusing every write to a room for more than
// 6 s on a loaded machine).
var testUserPUTRetry = matrix.PUTRetry{Retries: 8, Backoff: 200 * time.Millisecond, MaxBackoff: 2 * time.Second}
