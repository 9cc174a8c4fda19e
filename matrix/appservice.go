package matrix

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
)

// AppserviceOptions configure the application service API the bot serves
// in appservice mode (matrix.mode: appservice).
type AppserviceOptions struct {
	// HSToken is the token the homeserver sends (the registration's
	// hs_token); a request without it is refused and nothing of it read.
	HSToken string
	// MaxBodyBytes bounds a transaction's body (default 32 MiB: Synapse
	// sends at most 100 events, each at most 64 KiB).
	MaxBodyBytes int64
	// AckWait is how long the actor tree may take to ack a transaction's
	// events before the transaction is settled anyway, with a warning, as
	// the sync loop's position does (default DefaultInboxAckWait).
	AckWait time.Duration
}

// DefaultMaxTransactionBytes is AppserviceOptions.MaxBodyBytes' default.
const DefaultMaxTransactionBytes = 32 << 20

// DefaultInboxAckWait is AppserviceOptions.AckWait's default. It is longer
// than the sync position's minute because nothing waits for a kept
// transaction: it bounds only how long an ack lost to a bug keeps one in
// the inbox. An onboarding holds its invite's ack until the user's rooms
// exist, and Dendrite took up to 47 s a room with 30 users onboarding at
// once: settled early, a crash after would forget the invite.
const DefaultInboxAckWait = 10 * time.Minute

// Appservice is the application service API (spec: Application Service
// API): the homeserver pushes transactions of events to the bot instead of
// the bot syncing.
//
// A transaction is kept in the store's inbox before it is answered 200,
// then handed to the actor tree; once the tree acked every event in it
// (the sync loop's Ack contract, PRODUCT R3.2, R7.2) its events and the
// transaction are marked handled and it leaves the inbox. A crash before
// the answer has the homeserver send it again; a crash after has Resume
// hand it over again at the next start; either way the marks (and a room's
// own record of what it took) keep what was handled from running twice.
// The answer does not wait for the acks: the homeserver sends one
// transaction at a time, so waiting would hold every user's events behind
// the slowest event of one (an onboarding that makes rooms, a message
// waiting for its room key). Transactions are handed over in order.
//
// Its handler is safe for concurrent use.
type Appservice struct {
	c       *Client
	s       *syncer
	hsToken []byte
	maxBody int64
	ackWait time.Duration
	base    context.Context

	// mu serialises transactions and Resume: the homeserver sends one at
	// a time, and the tree gets them in the order they came.
	mu sync.Mutex
	// inflight holds the ids of the events handed to the tree whose
	// transaction is not settled: a transaction sent again with more
	// events (or kept twice across a crash) hands over only the others.
	flightMu sync.Mutex
	inflight map[string]bool
	// stop ends the waits of the transactions not settled (Close).
	stop     chan struct{}
	stopOnce sync.Once
	settling sync.WaitGroup
}

// Appservice returns the application service API handing events to sink,
// as Run would. base carries the logger and outlives every transaction's
// handling (a message waiting for its room key goes on after the answer).
func (c *Client) Appservice(base context.Context, sink Sink, opts AppserviceOptions) *Appservice {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxTransactionBytes
	}
	if opts.AckWait <= 0 {
		opts.AckWait = DefaultInboxAckWait
	}
	return &Appservice{
		c: c, s: newSyncer(c, sink, c.pos, nil), hsToken: []byte(opts.HSToken),
		maxBody: opts.MaxBodyBytes, ackWait: opts.AckWait, base: base,
		inflight: map[string]bool{}, stop: make(chan struct{}),
	}
}

// Handler serves the API's endpoints, under /_matrix/app/v1 and, as the
// spec allows for older homeservers, without that prefix.
func (a *Appservice) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, prefix := range []string{"/_matrix/app/v1", ""} {
		mux.HandleFunc("PUT "+prefix+"/transactions/{txnId}", a.authorized(a.transaction))
		mux.HandleFunc("GET "+prefix+"/users/{userId}", a.authorized(a.user))
		mux.HandleFunc("GET "+prefix+"/rooms/{alias}", a.authorized(a.notFound))
	}
	mux.HandleFunc("POST /_matrix/app/v1/ping", a.authorized(func(w http.ResponseWriter, _ *http.Request) {
		asJSON(w, http.StatusOK, struct{}{})
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		asError(w, http.StatusNotFound, "M_UNRECOGNIZED", "unknown endpoint")
	})
	return mux
}

// authorized checks the homeserver's token (the Authorization header, or
// the access_token parameter of older homeservers) in constant time before
// next reads anything.
func (a *Appservice) authorized(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			token = r.URL.Query().Get("access_token")
		}
		switch {
		case token == "":
			asError(w, http.StatusUnauthorized, "M_UNAUTHORIZED", "no homeserver token")
		case len(a.hsToken) == 0 || subtle.ConstantTimeCompare([]byte(token), a.hsToken) != 1:
			zerolog.Ctx(a.base).Warn().Str("remote_addr", r.RemoteAddr).Str("path", r.URL.Path).Msg("appservice request with a wrong homeserver token refused")
			asError(w, http.StatusForbidden, "M_FORBIDDEN", "wrong homeserver token")
		default:
			next(w, r)
		}
	}
}

// user answers the homeserver's query for a user in the bot's namespace:
// the bot itself exists, nobody else does.
func (a *Appservice) user(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("userId") == a.c.cli.UserID.String() {
		asJSON(w, http.StatusOK, struct{}{})
		return
	}
	a.notFound(w, r)
}

func (a *Appservice) notFound(w http.ResponseWriter, _ *http.Request) {
	asError(w, http.StatusNotFound, "M_NOT_FOUND", "the bot has no such user or room")
}

// transactionBody is what the bot reads of a transaction: its room
// events, and what it carries for the crypto machine (appservice_keys.go).
type transactionBody struct {
	Events []*event.Event `json:"events"`
	transactionKeys
}

// txnMark is the handled-mark a transaction is kept under, beside its
// events' own: its id and a digest of its events' ids. Dendrite sends a
// transaction it got no answer to again under the same id with the events
// that arrived meanwhile added (its id is the time of the batch's first
// event), so a mark of the id alone would have those answered 200 unread
// (seen in the crash test: a message lost). A transaction sent again as it
// was is answered at once; one with more events goes through, where each
// event's own mark keeps the ones handled from running twice. The keys a
// transaction pushes have no ids: their digest counts as one more.
func txnMark(txnID string, body *transactionBody) string {
	h := sha256.New()
	for _, evt := range body.Events {
		if evt != nil {
			h.Write([]byte(evt.ID))
			h.Write([]byte{0})
		}
	}
	h.Write(body.digest())
	return "appservice-txn:" + txnID + ":" + hex.EncodeToString(h.Sum(nil)[:12])
}

func (a *Appservice) transaction(w http.ResponseWriter, r *http.Request) {
	txnID := r.PathValue("txnId")
	log := zerolog.Ctx(a.base).With().Str("txn_id", txnID).Logger()
	ctx := log.WithContext(r.Context())
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			log.Warn().Int64("limit", a.maxBody).Msg("appservice transaction over the size limit refused")
			asError(w, http.StatusRequestEntityTooLarge, "M_TOO_LARGE", "transaction too large")
			return
		}
		asError(w, http.StatusBadRequest, "M_BAD_JSON", "failed to read the transaction")
		return
	}
	var body transactionBody
	if err := json.Unmarshal(raw, &body); err != nil {
		asError(w, http.StatusBadRequest, "M_NOT_JSON", "the transaction is not valid JSON")
		return
	}

	// The bot's own echoes (its messages, edits, reactions and redactions;
	// not its state events, which the crypto machine's state store reads)
	// are dropped before any write: a streaming reply's edits come back as
	// transactions of their own. One left with nothing to keep or hand over
	// (echoes, or only ephemeral events the bot does not read) is answered
	// at once.
	body.Events = withoutEchoes(a.c.cli.UserID, body.Events)
	if len(body.Events) == 0 && body.empty() {
		asJSON(w, http.StatusOK, struct{}{})
		return
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped() {
		asError(w, http.StatusServiceUnavailable, "M_UNKNOWN", "the bot is stopping")
		return
	}
	mark := txnMark(txnID, &body)
	handled, err := a.c.store.EventHandled(ctx, mark)
	if err != nil {
		log.Error().Err(err).Msg("failed to check whether a transaction was handled")
		asError(w, http.StatusInternalServerError, "M_UNKNOWN", "failed to read the bot's state")
		return
	}
	if handled {
		log.Debug().Msg("appservice transaction sent again, already handled")
		asJSON(w, http.StatusOK, struct{}{})
		return
	}
	added, err := a.c.store.AddToInbox(ctx, mark, raw)
	if err != nil {
		log.Error().Err(err).Msg("failed to keep an appservice transaction")
		asError(w, http.StatusInternalServerError, "M_UNKNOWN", "failed to store the transaction")
		return
	}
	if added {
		a.handOver(log.WithContext(a.base), mark, &body)
	} else {
		// Kept already: handed over when it came, or by Resume.
		log.Debug().Msg("appservice transaction sent again, kept already")
	}
	asJSON(w, http.StatusOK, struct{}{})
	log.Debug().Int("events", len(body.Events)).Msg("appservice transaction answered")
}

// withoutEchoes returns events without the bot's own non-state events.
func withoutEchoes(bot id.UserID, events []*event.Event) []*event.Event {
	return slices.DeleteFunc(events, func(evt *event.Event) bool {
		return evt == nil || (evt.Sender == bot && evt.StateKey == nil)
	})
}

// pushed hands a transaction's events to the sink as the sync loop would
// hand the same events: invites of the bot as InviteReceived, each room's
// events through timeline (its own echoes, edits and the like dropped
// there, before any write).
func (s *syncer) pushed(ctx context.Context, acks acker, events []*event.Event) {
	bot := s.c.cli.UserID.String()
	byRoom := map[id.RoomID][]*event.Event{}
	var order []id.RoomID
	for _, evt := range events {
		if evt == nil {
			continue
		}
		if evt.Type == event.StateMember && evt.GetStateKey() == bot {
			if s.invite(ctx, acks, evt.RoomID, evt) {
				continue
			}
		}
		if _, ok := byRoom[evt.RoomID]; !ok {
			order = append(order, evt.RoomID)
		}
		byRoom[evt.RoomID] = append(byRoom[evt.RoomID], evt)
	}
	if cs := s.c.crypto; cs != nil {
		// Memberships and encryption settings first, as a sync response's
		// state: the timeline below may need them to answer encrypted.
		for _, roomID := range order {
			cs.roomState(ctx, roomID, byRoom[roomID])
		}
	}
	for _, roomID := range order {
		s.timeline(ctx, acks, roomID, byRoom[roomID])
	}
}

// DeviceReady tells the rooms the bot serves encrypted that its device is
// new, when it is (PRODUCT R10.2): appservice mode's counterpart of the
// sync loop's first response. Call it once the to-device sync has run.
func (a *Appservice) DeviceReady(ctx context.Context) {
	if cs := a.c.crypto; cs != nil {
		a.s.announceDevice(ctx, cs, noAcks{})
	}
}

// noAcks hands out Acks nobody waits for.
type noAcks struct{}

func (noAcks) ack(string) *actors.Ack { return actors.NewAck(func() {}) }

func asJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func asError(w http.ResponseWriter, status int, code, msg string) {
	asJSON(w, status, map[string]string{"errcode": code, "error": msg})
}
