package matrix

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Registration is an application service registration (spec: Application
// Service API, Registration), as homeservers load it from a YAML file.
type Registration struct {
	ID              string     `yaml:"id"`
	URL             string     `yaml:"url"`
	ASToken         string     `yaml:"as_token"`
	HSToken         string     `yaml:"hs_token"`
	SenderLocalpart string     `yaml:"sender_localpart"`
	RateLimited     bool       `yaml:"rate_limited"`
	Namespaces      Namespaces `yaml:"namespaces"`

	// Asking the homeserver to push ephemeral and to-device events
	// (MSC2409: the stable key and Synapse's unstable one) and device
	// lists and one-time key counts (MSC3202) in transactions; see
	// PushKeys.
	ReceiveEphemeral     bool `yaml:"receive_ephemeral,omitempty"`
	MSC2409PushEphemeral bool `yaml:"de.sorunome.msc2409.push_ephemeral,omitempty"`
	MSC3202              bool `yaml:"org.matrix.msc3202,omitempty"`
	// MSC4190 lets the appservice make its bot a device (Synapse: an
	// appservice's token has none otherwise), for encryption.
	MSC4190 bool `yaml:"io.element.msc4190,omitempty"`
}

// PushKeys asks the homeserver to push what the bot's crypto machine needs
// in the transactions (matrix.appservice.to_device: push): to-device
// events, device lists and one-time key counts. A homeserver without
// MSC2409 and MSC3202 ignores the keys.
func (r *Registration) PushKeys() {
	r.ReceiveEphemeral, r.MSC2409PushEphemeral, r.MSC3202 = true, true, true
}

// Namespaces are the ids an application service claims.
type Namespaces struct {
	Users   []Namespace `yaml:"users"`
	Aliases []Namespace `yaml:"aliases"`
	Rooms   []Namespace `yaml:"rooms"`
}

// Namespace is one claimed pattern.
type Namespace struct {
	Exclusive bool   `yaml:"exclusive"`
	Regex     string `yaml:"regex"`
}

// NewRegistration registers the bot botUserID as an application service
// reached at url: fresh random tokens, an exclusive namespace holding the
// bot's user only (nobody else can register it, and the bot claims nobody
// else), no rate limits.
func NewRegistration(botUserID, url string) (*Registration, error) {
	localpart, server, ok := strings.Cut(strings.TrimPrefix(botUserID, "@"), ":")
	if !strings.HasPrefix(botUserID, "@") || !ok || localpart == "" || server == "" {
		return nil, fmt.Errorf("%q is not a Matrix user id", botUserID)
	}
	var tokens [2]string
	for i := range tokens {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("failed to make a token: %w", err)
		}
		tokens[i] = hex.EncodeToString(b)
	}
	return &Registration{
		ID: "surfaces", URL: url, ASToken: tokens[0], HSToken: tokens[1], SenderLocalpart: localpart,
		Namespaces: Namespaces{
			Users:   []Namespace{{Exclusive: true, Regex: "^" + regexp.QuoteMeta(botUserID) + "$"}},
			Aliases: []Namespace{}, Rooms: []Namespace{},
		},
	}, nil
}

// ErrRegistrationExists refuses to replace a registration file: its
// tokens are in the homeserver's configuration.
var ErrRegistrationExists = errors.New("the registration file exists")

// Write writes the registration to path, readable by its owner only; it
// does not replace an existing file unless replace.
func (r *Registration) Write(path string, replace bool) error {
	raw, err := yaml.Marshal(r)
	if err != nil {
		return fmt.Errorf("failed to encode the registration: %w", err)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if replace {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%w: %s (its tokens are in the homeserver's configuration; --force replaces it)", ErrRegistrationExists, path)
	}
	if err != nil {
		return fmt.Errorf("failed to write the registration: %w", err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return fmt.Errorf("failed to write the registration %s: %w", path, err)
	}
	return f.Close()
}

// LoadRegistration reads a registration file.
func LoadRegistration(path string) (*Registration, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read the registration: %w", err)
	}
	var r Registration
	if err := yaml.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("failed to read the registration %s: %w", path, err)
	}
	if r.ASToken == "" || r.HSToken == "" {
		return nil, fmt.Errorf("the registration %s has no as_token or hs_token", path)
	}
	return &r, nil
}
