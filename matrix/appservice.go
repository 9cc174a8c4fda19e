package matrix

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
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
	// AckWait is how long a transaction waits for the actor tree to ack
	// its events before it is answered 503, to be sent again (default
	// DefaultAckWait).
	AckWait time.Duration
}

// DefaultMaxTransactionBytes is AppserviceOptions.MaxBodyBytes' default.
const DefaultMaxTransactionBytes = 32 << 20

// Appservice is the application service API (spec: Application Service
// API): the homeserver pushes transactions of events to the bot instead of
// the bot syncing. A transaction is answered 200 only once the actor tree
// acked every event in it under the same contract as the sync loop's
// (PRODUCT R3.2, R7.2), and its id is then kept, so that a homeserver
// sending it again after a crash or a timeout gets 200 and nothing is
// handled twice. Transactions are handled one at a time, in order.
//
// Its handler is safe for concurrent use.
type Appservice struct {
	c       *Client
	s       *syncer
	hsToken []byte
	maxBody int64
	ackWait time.Duration
	base    context.Context

	// mu serialises transactions: the homeserver sends one at a time, and
	// a retry arriving while the first attempt still waits must wait too.
	mu sync.Mutex
}

// Appservice returns the application service API handing events to sink,
// as Run would. base carries the logger.
func (c *Client) Appservice(base context.Context, sink Sink, opts AppserviceOptions) *Appservice {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxTransactionBytes
	}
	if opts.AckWait <= 0 {
		opts.AckWait = DefaultAckWait
	}
	return &Appservice{
		c: c, s: newSyncer(c, sink, c.pos, nil), hsToken: []byte(opts.HSToken),
		maxBody: opts.MaxBodyBytes, ackWait: opts.AckWait, base: base,
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

// transactionBody is what the bot reads of a transaction.
type transactionBody struct {
	Events []*event.Event `json:"events"`
}

// txnMark is the handled-mark a transaction is kept under, beside its
// events' own: its id and a digest of its events' ids. Dendrite sends a
// transaction it got no answer to again under the same id with the events
// that arrived meanwhile added (its id is the time of the batch's first
// event), so a mark of the id alone would have those answered 200 unread
// (seen in the crash test: a message lost). A transaction sent again as it
// was is answered at once; one with more events goes through, where each
// event's own mark keeps the ones handled from running twice.
func txnMark(txnID string, events []*event.Event) string {
	h := sha256.New()
	for _, evt := range events {
		if evt != nil {
			h.Write([]byte(evt.ID))
			h.Write([]byte{0})
		}
	}
	return "appservice-txn:" + txnID + ":" + hex.EncodeToString(h.Sum(nil)[:12])
}

func (a *Appservice) transaction(w http.ResponseWriter, r *http.Request) {
	txnID := r.PathValue("txnId")
	log := zerolog.Ctx(a.base).With().Str("txn_id", txnID).Logger()
	ctx := log.WithContext(r.Context())
	var body transactionBody
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.maxBody)).Decode(&body); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			log.Warn().Int64("limit", a.maxBody).Msg("appservice transaction over the size limit refused")
			asError(w, http.StatusRequestEntityTooLarge, "M_TOO_LARGE", "transaction too large")
			return
		}
		asError(w, http.StatusBadRequest, "M_NOT_JSON", "the transaction is not valid JSON")
		return
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	mark := txnMark(txnID, body.Events)
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

	acks := newTxnAcks()
	a.s.pushed(ctx, acks, body.Events)
	acks.seal()
	timer := time.NewTimer(a.ackWait)
	defer timer.Stop()
	select {
	case <-acks.done:
	case <-timer.C:
	case <-r.Context().Done():
	}
	marks, complete := acks.acked()
	if complete {
		marks = append(marks, mark)
	}
	// The marks of the events acked so far are kept either way: a
	// transaction sent again then hands the tree only the rest.
	if err := a.c.store.CommitSync(context.WithoutCancel(ctx), a.c.cli.UserID.String(), "", marks); err != nil {
		log.Error().Err(err).Msg("failed to store what an appservice transaction handled")
		asError(w, http.StatusInternalServerError, "M_UNKNOWN", "failed to store the transaction")
		return
	}
	if !complete {
		log.Warn().Int("events", len(body.Events)).Stringer("waited", a.ackWait).Msg("appservice transaction not acked in time; the homeserver will send it again")
		asError(w, http.StatusServiceUnavailable, "M_UNKNOWN", "the transaction's events are not all handled yet")
		return
	}
	log.Debug().Int("events", len(body.Events)).Msg("appservice transaction handled")
	asJSON(w, http.StatusOK, struct{}{})
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

// txnAcks are the Acks of one appservice transaction: done closes once
// every event handed over was acked and the transaction sealed.
type txnAcks struct {
	mu      sync.Mutex
	pending int
	handled []string
	done    chan struct{}
}

func newTxnAcks() *txnAcks { return &txnAcks{pending: 1, done: make(chan struct{})} }

func (t *txnAcks) ack(handled string) *actors.Ack {
	t.mu.Lock()
	t.pending++
	t.mu.Unlock()
	return actors.NewAck(func() {
		t.mu.Lock()
		if handled != "" {
			t.handled = append(t.handled, handled)
		}
		t.mu.Unlock()
		t.release()
	})
}

// seal says every event was handed over.
func (t *txnAcks) seal() { t.release() }

func (t *txnAcks) release() {
	t.mu.Lock()
	t.pending--
	last := t.pending == 0
	t.mu.Unlock()
	if last {
		close(t.done)
	}
}

// acked returns the marks of the events acked so far, and whether all are.
func (t *txnAcks) acked() (marks []string, complete bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.handled...), t.pending == 0
}

func asJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func asError(w http.ResponseWriter, status int, code, msg string) {
	asJSON(w, status, map[string]string{"errcode": code, "error": msg})
}
