package config

import (
	_ "embed" // the example files below
	"time"
)

// Config is the configuration of the whole binary. The koanf tags are the
// YAML keys and, upper-cased behind SURFACES_, the environment names; the
// cfg tag marks secrets (never printed) and free text (exempt from the
// identifier-only placeholder rules).
type Config struct {
	Matrix    Matrix    `koanf:"matrix"`
	Agents    Agents    `koanf:"agents"`
	Workspace Workspace `koanf:"workspace"`
	State     State     `koanf:"state"`
	// Persistence chooses where the records live: the Badger database in
	// State.Path (the default) or PostgreSQL.
	Persistence Persistence `koanf:"persistence"`
	HTTP        HTTP        `koanf:"http"`
	Locale      string      `koanf:"locale"`
	Log         Log         `koanf:"log"`
	Streaming   Streaming   `koanf:"streaming"`
	Queue       Queue       `koanf:"queue"`
	RateLimit   RateLimit   `koanf:"rate_limit"`
	Quota       Quota       `koanf:"quota"`
	Onboarding  Onboarding  `koanf:"onboarding"`
	Shutdown    Shutdown    `koanf:"shutdown"`
	Actors      Actors      `koanf:"actors"`
	// Cluster runs the binary as one member of several sharing a
	// PostgreSQL database (issue 24); off by default.
	Cluster Cluster `koanf:"cluster"`

	// meta records where the values came from, for error messages and
	// String; nil for a Config built by hand.
	meta *loadMeta
}

// Matrix is the bot's Matrix account and the access policy (PRODUCT R6.1).
type Matrix struct {
	// Homeserver is the client-server API base URL, e.g. "https://matrix.example.net".
	Homeserver string `koanf:"homeserver"`
	// UserID is the bot's Matrix user id, e.g. "@surfaces:example.net".
	UserID string `koanf:"user_id"`
	// AccessToken logs in without a password; one of AccessToken and
	// Password is required.
	AccessToken Secret `koanf:"access_token" cfg:"secret"`
	// Password logs in with m.login.password when there is no access token.
	Password Secret `koanf:"password" cfg:"secret"`
	// DeviceID is reused across restarts; empty lets the server pick one.
	DeviceID string `koanf:"device_id"`
	// AllowedServers are the homeservers whose users may invite the bot;
	// empty means any.
	AllowedServers []string `koanf:"allowed_servers"`
	// DisplayName is set on the bot's profile at start when not empty.
	DisplayName string `koanf:"display_name" cfg:"text"`
	// SendRate is the operator's ceiling on the events posted to rooms
	// (messages, edits, notices, reactions) per second. Below it sending is
	// paced by the homeserver: nothing waits until it answers 429, then the
	// bot follows its retry_after and speeds up again while posts are
	// accepted (PRODUCT R12.1). 0: no ceiling.
	SendRate float64 `koanf:"send_rate"`
	// SendBurst is how many posts may go out at once before SendRate applies.
	SendBurst int `koanf:"send_burst"`
	// Encryption is the end-to-end encryption policy (PRODUCT R10):
	// EncryptionOff, EncryptionAllowed or EncryptionDefault.
	Encryption string `koanf:"encryption"`
	// PickleKey encrypts the bot's encryption keys at rest, in the state
	// directory; required unless Encryption is off. Changing it makes the
	// stored keys unreadable.
	PickleKey Secret `koanf:"pickle_key" cfg:"secret"`
	// KeyWait is how long an encrypted message whose keys have not come
	// waits for them (a key request is sent meanwhile) before its sender is
	// asked to send it again.
	KeyWait time.Duration `koanf:"key_wait"`
	// RecoveryKey opens the account's secret storage, where the
	// cross-signing keys are, so that a new device of the bot (after a lost
	// state directory) is verified too. The bot prints it once, when it
	// sets cross-signing up; empty until then.
	RecoveryKey Secret `koanf:"recovery_key" cfg:"secret"`
	// Mode is how the bot reads the homeserver: ModeClient syncs as any
	// client does; ModeAppservice has the homeserver push transactions to
	// the bot, registered as an application service (`surfaces appservice
	// register`), without rate limits.
	Mode string `koanf:"mode"`
	// Appservice configures ModeAppservice.
	Appservice Appservice `koanf:"appservice"`
}

// The ways the bot reads the homeserver (Matrix.Mode).
const (
	ModeClient     = "client"
	ModeAppservice = "appservice"
)

// Appservice is the application service side of the bot (ModeAppservice).
type Appservice struct {
	// Listen is the address the application service API is served on,
	// where the registration's url must lead.
	Listen string `koanf:"listen"`
	// Registration is the registration file `surfaces appservice register`
	// wrote; the bot takes its tokens from it unless ASToken and HSToken
	// are set.
	Registration string `koanf:"registration"`
	// ASToken authenticates the bot to the homeserver (the registration's
	// as_token); HSToken the homeserver to the bot (hs_token).
	ASToken Secret `koanf:"as_token" cfg:"secret"`
	HSToken Secret `koanf:"hs_token" cfg:"secret"`
	// ToDevice says how the crypto machine gets the bot device's
	// to-device events, device-list changes and one-time key counts:
	// ToDeviceSync (the default) syncs the device for them alone, as
	// Dendrite needs; ToDevicePush takes them from the transactions only,
	// for a homeserver that pushes them (MSC2409, MSC3202: Synapse with
	// its experimental features on). What a transaction pushes is taken in
	// both.
	ToDevice string `koanf:"to_device"`
}

// How the bot's device gets its to-device events in appservice mode
// (Appservice.ToDevice).
const (
	ToDeviceSync = "sync"
	ToDevicePush = "push"
)

// Encryption policies (PRODUCT R10.2).
const (
	// EncryptionOff answers encrypted messages with a notice.
	EncryptionOff = "off"
	// EncryptionAllowed reads and answers in encrypted rooms users made.
	EncryptionAllowed = "allowed"
	// EncryptionDefault also encrypts the chat rooms the bot makes.
	EncryptionDefault = "default"
)

// Policies for users missing from the registry's user_agents (PRODUCT R5.2).
const (
	// UnassignedDefault gives them the first agent, with a one-time notice.
	UnassignedDefault = "default"
	// UnassignedDeny answers them with DenyMessage and nothing else.
	UnassignedDeny = "deny"
)

// Agents is how the bot finds and talks to agents (PRODUCT R3.7, R5).
type Agents struct {
	// RegistryPath is the YAML file mapping users to agents (watched).
	RegistryPath string `koanf:"registry_path"`
	// Unassigned is UnassignedDefault or UnassignedDeny.
	Unassigned string `koanf:"unassigned"`
	// DenyMessage answers denied users; empty uses the message catalogue's
	// text in the configured locale.
	DenyMessage string `koanf:"deny_message" cfg:"text"`
	// UserSelectable lets users switch agents with !agent (PRODUCT R2.13).
	UserSelectable bool `koanf:"user_selectable"`
	// ConnectTimeout bounds opening an agent's WebSocket.
	ConnectTimeout time.Duration `koanf:"connect_timeout"`
	// StatusTimeout bounds the wait for the agent's STATUS after connecting.
	StatusTimeout time.Duration `koanf:"status_timeout"`
	// TurnIdleTimeout fails a turn when the agent sends nothing for this long.
	TurnIdleTimeout time.Duration `koanf:"turn_idle_timeout"`
	// IdleClose closes a room's agent connection after this long without a turn.
	IdleClose time.Duration `koanf:"idle_close"`
	// CancelGrace is how long an agent asked to stop a turn (USER_CANCEL) has
	// to end it before its connection is closed.
	CancelGrace time.Duration `koanf:"cancel_grace"`
	// ConfirmTimeout is how long an agent's confirmation request waits for
	// the person (the turn's idle timeout is paused meanwhile).
	ConfirmTimeout time.Duration `koanf:"confirm_timeout"`
	// BaseURL is the fallback for registry entries without base_url (the
	// seed's AGENT_BASE_URL); empty means entries must carry their own.
	BaseURL string `koanf:"base_url"`
}

// Workspace is the volume shared with the agents (PRODUCT R4).
type Workspace struct {
	// Dir is the root of the shared volume on the bot's side.
	Dir string `koanf:"dir"`
	// MaxFileSize limits files in both directions.
	MaxFileSize ByteSize `koanf:"max_file_size"`
}

// State is where the Badger database lives (PRODUCT R7.1).
type State struct {
	Path string `koanf:"path"`
}

// Persistence is the backend of the durable state (PRODUCT R7.1).
type Persistence struct {
	// Backend is BackendBadger (one process, state in State.Path) or
	// BackendPostgres (the records in PostgreSQL, which several processes
	// can share).
	Backend string `koanf:"backend"`
	// PostgresDSN is the database's connection URL or key=value DSN
	// (BackendPostgres); it may carry a password.
	PostgresDSN Secret `koanf:"postgres_dsn" cfg:"secret"`
}

// Persistence backends (Persistence.Backend).
const (
	BackendBadger   = "badger"
	BackendPostgres = "postgres"
)

// HTTP serves /healthz, /readyz and /metrics (PRODUCT R8.2).
type HTTP struct {
	// Listen is a host:port; the default binds loopback only, so exposing
	// metrics is a deliberate choice.
	Listen string `koanf:"listen"`
	// UnreadyAfter turns /readyz to 503 once syncing with the homeserver
	// has failed for this long; it is ready again at the next good sync.
	UnreadyAfter time.Duration `koanf:"unready_after"`
	// Pprof also serves Go's profiler at /debug/pprof/ on Listen. Off by
	// default: a profile shows what the bot is doing to anyone who reaches
	// the port.
	Pprof bool `koanf:"pprof"`
}

// Log formats.
const (
	LogFormatJSON    = "json"
	LogFormatConsole = "console"
	// LogFormatAuto is console on a terminal and JSON otherwise.
	LogFormatAuto = "auto"
)

// Log configures zerolog (PRODUCT R8.3).
type Log struct {
	// Level is a zerolog level name: trace, debug, info, warn, error.
	Level string `koanf:"level"`
	// Format is LogFormatJSON, LogFormatConsole or LogFormatAuto.
	Format string `koanf:"format"`
}

// Streaming shapes how replies appear while the agent writes (PRODUCT R3.3, R3.4).
type Streaming struct {
	// EditInterval is the minimum time between two edits of a streamed reply.
	EditInterval time.Duration `koanf:"edit_interval"`
	// TypingRefresh is how often the typing notification is renewed.
	TypingRefresh time.Duration `koanf:"typing_refresh"`
	// TypingAfter is how long a turn runs before the message is marked
	// read and typing goes on (0: as the turn starts). A reply complete
	// sooner comes without a typing notice, its receipt right after its
	// first message; a reply the agent has finished whose text is on its
	// way to the homeserver gets its receipt then and no typing.
	TypingAfter time.Duration `koanf:"typing_after"`
	// MaxMessageBytes is the body size at which a reply is split into
	// consecutive messages; it must leave room for formatted_body within
	// Matrix's 64 KiB event limit.
	MaxMessageBytes ByteSize `koanf:"max_message_bytes"`
	// MaxEdits caps the edits of one reply (rooms with thousands of edits
	// load slowly in every client); the interval between edits grows as a
	// long turn goes on, and the final text is always complete.
	MaxEdits int `koanf:"max_edits"`
	// NotifyAfter: a turn longer than this ends with its answer in a new
	// message, because edits do not notify the user.
	NotifyAfter time.Duration `koanf:"notify_after"`
}

// Queue bounds the messages waiting for a room's running turn (PRODUCT R3.2).
type Queue struct {
	Size int `koanf:"size"`
}

// RateLimit is the per-user token bucket (PRODUCT R6.2).
type RateLimit struct {
	// Rate is the sustained allowance in messages per second (0.5 is one
	// message every two seconds).
	Rate float64 `koanf:"rate"`
	// Burst is how many messages may arrive at once.
	Burst int `koanf:"burst"`
}

// Quota bounds what one user may hold (PRODUCT R6.4).
type Quota struct {
	// MaxChats is how many active (not archived) chats a user may have;
	// !new past it is refused with a notice naming !archive. 0: no limit.
	MaxChats int `koanf:"max_chats"`
	// MaxStagedBytes is how many bytes of files a user may have waiting
	// for the agent, over all their chats; a file past it is refused and
	// nothing of it stays on disk. 0: no limit.
	MaxStagedBytes ByteSize `koanf:"max_staged_bytes"`
}

// Onboarding names what first contact creates (PRODUCT R1.2).
type Onboarding struct {
	// SpaceNameTemplate names the user's Space; "{name}" is replaced by the
	// user's display name.
	SpaceNameTemplate string `koanf:"space_name_template" cfg:"text"`
	// FirstChatName names the first chat room; empty uses the message
	// catalogue's "Chat 1" in the configured locale. Later chats are "Chat N".
	FirstChatName string `koanf:"first_chat_name" cfg:"text"`
}

// Shutdown is the SIGTERM behaviour (PRODUCT R8.4).
type Shutdown struct {
	// Grace is how long running turns may take to finish.
	Grace time.Duration `koanf:"grace"`
}

// Actors tunes the actor tree.
type Actors struct {
	// PassivateAfter stops a room's actor after this long without activity
	// (and a user's once their rooms' are stopped); the next message starts
	// it again from the state directory. 0 keeps every actor resident.
	PassivateAfter time.Duration `koanf:"passivate_after"`
}

// Cluster makes this process a member of a cluster: several copies of the
// binary on one PostgreSQL database (persistence.backend: postgres), one of
// which at a time, the ingress holder, reads the homeserver and runs the
// conversations; the others stand by and take over when it dies.
type Cluster struct {
	Enabled bool `koanf:"enabled"`
	// MemberID names this member, unique among the running ones; empty
	// means the host name.
	MemberID string `koanf:"member_id"`
	// Grains places the users' and the rooms' actors across the members
	// (protoactor-go grains): every member serves a share of the
	// conversations, while the ingress holder reads the homeserver. With
	// matrix.encryption each member logs in with matrix.password as a
	// device of its own, whose keys live in the database under its
	// member id.
	Grains bool `koanf:"grains"`
	// Listen is where this member's actor system listens for the others
	// (host:port, port 0 picks a free one), with Grains on. The address is
	// advertised as written: on several boxes, give one the others reach.
	Listen string `koanf:"listen"`
}

// Locales with a message catalogue (PRODUCT R2.11).
const (
	LocaleEN = "en"
	LocaleRU = "ru"
)

// Defaults returns the built-in defaults: the first layer of Load. Required
// values (homeserver, user id, credentials, registry path, workspace dir)
// have no default.
func Defaults() *Config {
	return &Config{
		// Dendrite's default limit is about 40 requests a second per user;
		// Synapse's rc_message is far lower, and bots are usually exempted
		// there (see the README).
		Matrix: Matrix{SendRate: 0, SendBurst: 20, Encryption: EncryptionAllowed, KeyWait: 30 * time.Second, Mode: ModeClient,
			Appservice: Appservice{Listen: "127.0.0.1:8090", ToDevice: ToDeviceSync}},
		Agents: Agents{
			Unassigned:      UnassignedDefault,
			ConnectTimeout:  10 * time.Second,
			StatusTimeout:   10 * time.Second,
			TurnIdleTimeout: 2 * time.Minute,
			IdleClose:       10 * time.Minute,
			CancelGrace:     5 * time.Second,
			ConfirmTimeout:  10 * time.Minute,
		},
		Workspace:   Workspace{MaxFileSize: 50 * MiB},
		State:       State{Path: "./data"},
		Persistence: Persistence{Backend: BackendBadger},
		HTTP:        HTTP{Listen: "127.0.0.1:8080", UnreadyAfter: 2 * time.Minute},
		Locale:      LocaleEN,
		Log:         Log{Level: "info", Format: LogFormatAuto},
		Streaming: Streaming{
			EditInterval: time.Second,
			// Matrix clients drop a typing notification after its timeout
			// (the bot sends 30 s); renewing at 20 s keeps it continuous.
			TypingRefresh: 20 * time.Second,
			// An agent that answers at once shows its answer, not a typing
			// notice flashing on and off; the receipt and the typing
			// notice stay out of the homeserver's way while the first
			// message goes out (README, Numbers). A deliberate reading of
			// R3.3 and R3.9: a slower turn gets both a tenth of a second
			// in, an instant answer's receipt follows the answer.
			TypingAfter:     100 * time.Millisecond,
			MaxMessageBytes: 8000, // JSON escapes "<" as 6 bytes: 8000 still fits one event
			MaxEdits:        60,
			NotifyAfter:     10 * time.Second,
		},
		Queue:     Queue{Size: 10},
		RateLimit: RateLimit{Rate: 0.5, Burst: 10},
		Quota:     Quota{MaxChats: 100, MaxStagedBytes: 200 * MiB},
		Onboarding: Onboarding{
			SpaceNameTemplate: "Lambda — {name}",
			FirstChatName:     "",
		},
		Shutdown: Shutdown{Grace: 30 * time.Second},
		Actors:   Actors{PassivateAfter: 15 * time.Minute},
		Cluster:  Cluster{Listen: "127.0.0.1:0"},
	}
}

// The example files ship inside the binary so that `surfaces config
// example` (or a README generator) can print them without the source tree.

//go:embed surfaces.example.yaml
var exampleConfig []byte

//go:embed matrix-agents.example.yaml
var exampleRegistry []byte

// ExampleConfig returns config/surfaces.example.yaml: every key, commented,
// with placeholders that Validate rejects until they are replaced.
func ExampleConfig() []byte { return append([]byte(nil), exampleConfig...) }

// ExampleRegistry returns config/matrix-agents.example.yaml, the agent
// registry in the seed's format (parsed by agents/).
func ExampleRegistry() []byte { return append([]byte(nil), exampleRegistry...) }
