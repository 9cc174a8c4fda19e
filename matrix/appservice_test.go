package matrix

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
)

const hsToken = "the-homeserver-token"

// asRig is the appservice API on a test server, its sink recording what
// it got (the test acks it).
type asRig struct {
	srv   *httptest.Server
	as    *Appservice
	store *memState
	mu    sync.Mutex
	got   []any
	sunk  chan any
}

func newASRig(t *testing.T, opts AppserviceOptions) *asRig {
	return newASRigOn(t, newMemState(), opts)
}

// newASRigOn is a rig on store: a second rig on the same store is the bot
// started again after a crash.
func newASRigOn(t *testing.T, store *memState, opts AppserviceOptions) *asRig {
	t.Helper()
	cli, err := mautrix.NewClient("http://127.0.0.1:1", id.UserID(botID), "")
	if err != nil {
		t.Fatal(err)
	}
	r := &asRig{store: store, sunk: make(chan any, 100)}
	c := &Client{cli: cli, store: r.store, pos: newPosition(r.store, botID, 0)}
	if opts.HSToken == "" {
		opts.HSToken = hsToken
	}
	r.as = c.Appservice(context.Background(), func(m any) {
		r.mu.Lock()
		r.got = append(r.got, m)
		r.mu.Unlock()
		r.sunk <- m
	}, opts)
	r.srv = httptest.NewServer(r.as.Handler())
	t.Cleanup(r.srv.Close)
	t.Cleanup(r.as.Close) // its settling ends with the test
	return r
}

// put sends a transaction and returns the status and errcode.
func (r *asRig) put(t *testing.T, path, token string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, r.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var e struct {
		Errcode string `json:"errcode"`
	}
	_ = json.Unmarshal(raw, &e)
	return resp.StatusCode, e.Errcode
}

func (r *asRig) received() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.got...)
}

func txnJSON(events ...string) string {
	return `{"events":[` + strings.Join(events, ",") + `]}`
}

func textEvent(id, sender, body string) string {
	return fmt.Sprintf(`{"type":"m.room.message","room_id":"!r:hs.test","event_id":%q,"sender":%q,"origin_server_ts":1,"content":{"msgtype":"m.text","body":%q}}`, id, sender, body)
}

func ackOf(m any) *actors.Ack {
	switch m := m.(type) {
	case *actors.MessageReceived:
		return m.Ack
	case *actors.InviteReceived:
		return m.Ack
	}
	return nil
}

// A transaction is kept, then answered without waiting for the tree's
// acks; once acked, its events and the transaction are marked handled and
// it leaves the inbox. Sent again, before or after that, it gets 200 and
// nothing is handed over twice (issue 23, point 2).
func TestAppserviceTransactionIsKeptAnsweredAndSettledOnce(t *testing.T) {
	r := newASRig(t, AppserviceOptions{})
	// An invite carries no handled-mark of its own: only the kept
	// transaction keeps a repeat from handing it over again.
	invite := `{"type":"m.room.member","room_id":"!dm:hs.test","event_id":"$inv","sender":"@bob:hs.test","state_key":"` + botID + `","content":{"membership":"invite"}}`
	body := txnJSON(textEvent("$a", "@alice:hs.test", "hello"), textEvent("$own", botID, "the bot's own echo"), invite)
	if code, _ := r.put(t, "/_matrix/app/v1/transactions/t1", hsToken, strings.NewReader(body)); code != http.StatusOK {
		t.Fatalf("answered %d, want 200 once kept", code)
	}
	if keys := r.store.inboxKeys(); !slices.Equal(keys, []string{markOf(t, "t1", body)}) {
		t.Fatalf("the inbox holds %q, want the unacked transaction", keys)
	}
	// Invites are handed over first, as in a sync response.
	inv, msg := <-r.sunk, <-r.sunk
	if _, ok := inv.(*actors.InviteReceived); !ok {
		t.Fatalf("first %#v, want bob's invite", inv)
	}
	m, ok := msg.(*actors.MessageReceived)
	if !ok || m.EventID != "$a" || m.Body != "hello" {
		t.Fatalf("the sink got %#v, want alice's message", msg)
	}
	// Sent again while the tree works on it: answered, not handed over.
	if code, _ := r.put(t, "/_matrix/app/v1/transactions/t1", hsToken, strings.NewReader(body)); code != http.StatusOK {
		t.Fatalf("the same transaction again while kept: %d, want 200", code)
	}
	if r.store.marked("$a") {
		t.Fatal("$a marked handled before the tree acked it")
	}
	ackOf(inv).Done()
	m.Ack.Done()
	eventually(t, "the transaction settled", func() bool { return len(r.store.inboxKeys()) == 0 })
	if !r.store.marked("$a") || !r.store.marked(markOf(t, "t1", body)) {
		t.Fatal("want the event and the transaction marked handled")
	}
	if code, _ := r.put(t, "/_matrix/app/v1/transactions/t1", hsToken, strings.NewReader(body)); code != http.StatusOK {
		t.Fatalf("the same transaction once handled: %d, want 200", code)
	}
	if got := r.received(); len(got) != 2 {
		t.Fatalf("the sink got %d messages in all, want 2: the bot's echo dropped, the repeats not handled", len(got))
	}
}

// A transaction whose acks do not all come within the ack wait is settled
// anyway (as the sync position is): the acked events marked, the
// transaction out of the inbox.
func TestAppserviceTransactionNotAckedInTimeIsSettledAnyway(t *testing.T) {
	r := newASRig(t, AppserviceOptions{AckWait: 200 * time.Millisecond})
	body := txnJSON(textEvent("$a", "@alice:hs.test", "one"), textEvent("$b", "@alice:hs.test", "two"))
	if code, _ := r.put(t, "/_matrix/app/v1/transactions/t2", hsToken, strings.NewReader(body)); code != http.StatusOK {
		t.Fatalf("answered %d, want 200", code)
	}
	ackOf(<-r.sunk).Done()
	<-r.sunk // "two" is never acked
	eventually(t, "the transaction settled", func() bool { return len(r.store.inboxKeys()) == 0 })
	if !r.store.marked("$a") || r.store.marked("$b") || !r.store.marked(markOf(t, "t2", body)) {
		t.Fatal("want the acked event and the transaction marked handled, the other event not")
	}
}

// A crash leaves the kept transactions the tree had not finished with in
// the inbox; the next start's Resume hands them over again, oldest first,
// but for the events marked handled, and drops one whose settling a crash
// cut after its marks.
func TestAppserviceResumeHandsOverWhatACrashLeft(t *testing.T) {
	store := newMemState()
	before := newASRigOn(t, store, AppserviceOptions{})
	one := txnJSON(textEvent("$a", "@alice:hs.test", "one"), textEvent("$b", "@alice:hs.test", "two"))
	two := txnJSON(textEvent("$c", "@bob:hs.test", "three"))
	for i, body := range []string{one, two} {
		if code, _ := before.put(t, fmt.Sprintf("/_matrix/app/v1/transactions/%d", i), hsToken, strings.NewReader(body)); code != http.StatusOK {
			t.Fatalf("answered %d, want 200", code)
		}
	}
	for range 3 {
		<-before.sunk // the crash comes before any ack
	}
	// $a's mark landed before the crash (a Close that stored it, say), and
	// a third transaction was settled but not yet out of the inbox: its
	// invite has no mark of its own, only the transaction's.
	must(t, store.CommitSync(t.Context(), botID, "", []string{"$a"}))
	settled := txnJSON(`{"type":"m.room.member","room_id":"!dm:hs.test","event_id":"$inv","sender":"@bob:hs.test","state_key":"` + botID + `","content":{"membership":"invite"}}`)
	must(t, store.CommitSync(t.Context(), botID, "", []string{markOf(t, "3", settled)}))
	if _, err := store.AddToInbox(t.Context(), markOf(t, "3", settled), []byte(settled)); err != nil {
		t.Fatal(err)
	}

	after := newASRigOn(t, store, AppserviceOptions{})
	if err := after.as.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range after.received() {
		switch m := m.(type) {
		case *actors.MessageReceived:
			ids = append(ids, m.EventID)
		case *actors.InviteReceived:
			ids = append(ids, m.EventID)
		}
		ackOf(m).Done()
	}
	if want := []string{"$b", "$c"}; !slices.Equal(ids, want) {
		t.Fatalf("Resume handed over %q, want %q", ids, want)
	}
	eventually(t, "the inbox emptied", func() bool { return len(store.inboxKeys()) == 0 })
	if !store.marked("$b") || !store.marked("$c") {
		t.Fatal("want the events handed over again marked handled once acked")
	}
}

// Close stores the marks of what the tree acked and leaves the rest of the
// transaction in the inbox for the next start; from then on transactions
// are answered 503, to be sent again.
func TestAppserviceCloseLeavesTheUnackedForTheNextStart(t *testing.T) {
	r := newASRig(t, AppserviceOptions{})
	body := txnJSON(textEvent("$a", "@alice:hs.test", "one"), textEvent("$b", "@alice:hs.test", "two"))
	if code, _ := r.put(t, "/_matrix/app/v1/transactions/t4", hsToken, strings.NewReader(body)); code != http.StatusOK {
		t.Fatalf("answered %d, want 200", code)
	}
	ackOf(<-r.sunk).Done()
	<-r.sunk
	r.as.Close()
	if !r.store.marked("$a") || r.store.marked("$b") || r.store.marked(markOf(t, "t4", body)) {
		t.Fatal("want only the acked event marked handled")
	}
	if keys := r.store.inboxKeys(); len(keys) != 1 {
		t.Fatalf("the inbox holds %q, want the unfinished transaction", keys)
	}
	if code, _ := r.put(t, "/_matrix/app/v1/transactions/t5", hsToken, strings.NewReader(txnJSON(textEvent("$c", "@alice:hs.test", "late")))); code != http.StatusServiceUnavailable {
		t.Fatalf("a transaction after Close answered %d, want 503", code)
	}
	if len(r.received()) != 2 {
		t.Fatal("a transaction after Close was handed over")
	}
}

// markOf is the handled-mark of the transaction txnID with body (the
// bot's echoes dropped, as they are before the mark is taken).
func markOf(t *testing.T, txnID, body string) string {
	t.Helper()
	var tb transactionBody
	if err := json.Unmarshal([]byte(body), &tb); err != nil {
		t.Fatal(err)
	}
	tb.Events = withoutEchoes(botID, tb.Events) // as the handler does
	return txnMark(txnID, &tb)
}

// Dendrite sends a transaction it got no answer to again under the same id
// with the events that arrived meanwhile added: the added ones are handed
// over, the ones still with the tree or handled are not, and a repeat of
// either as it was changes nothing.
func TestAppserviceTransactionIDReusedWithMoreEvents(t *testing.T) {
	r := newASRig(t, AppserviceOptions{})
	first := txnJSON(textEvent("$a", "@alice:hs.test", "one"))
	more := txnJSON(textEvent("$a", "@alice:hs.test", "one"), textEvent("$b", "@alice:hs.test", "two"))
	for _, body := range []string{first, more} {
		if code, _ := r.put(t, "/_matrix/app/v1/transactions/t3", hsToken, strings.NewReader(body)); code != http.StatusOK {
			t.Fatalf("answered %d, want 200", code)
		}
	}
	// $a is not acked yet when the second comes: it is not handed over again.
	for _, m := range r.received() {
		ackOf(m).Done()
	}
	eventually(t, "both settled", func() bool { return len(r.store.inboxKeys()) == 0 })
	for _, body := range []string{first, more} {
		if code, _ := r.put(t, "/_matrix/app/v1/transactions/t3", hsToken, strings.NewReader(body)); code != http.StatusOK {
			t.Fatalf("answered %d, want 200", code)
		}
	}
	var ids []string
	for _, m := range r.received() {
		ids = append(ids, m.(*actors.MessageReceived).EventID)
	}
	if want := []string{"$a", "$b"}; !slices.Equal(ids, want) {
		t.Fatalf("the sink got %q, want %q: each event once", ids, want)
	}
}

// Bad requests change nothing: a missing or wrong token, malformed JSON,
// an oversized body (refused without being read whole).
func TestAppserviceRefusesBadRequests(t *testing.T) {
	for _, tc := range []struct {
		name    string
		path    string
		token   string
		body    func() (io.Reader, *countingReader)
		status  int
		errcode string
	}{
		{"no token", "/_matrix/app/v1/transactions/x", "", okBody, http.StatusUnauthorized, "M_UNAUTHORIZED"},
		{"wrong token", "/_matrix/app/v1/transactions/x", "not-the-token", okBody, http.StatusForbidden, "M_FORBIDDEN"},
		{"wrong token, legacy path", "/transactions/x", hsToken + "x", okBody, http.StatusForbidden, "M_FORBIDDEN"},
		{"malformed JSON", "/_matrix/app/v1/transactions/x", hsToken, func() (io.Reader, *countingReader) {
			return strings.NewReader(`{"events":[`), nil
		}, http.StatusBadRequest, "M_NOT_JSON"},
		{"oversized", "/_matrix/app/v1/transactions/x", hsToken, func() (io.Reader, *countingReader) {
			c := &countingReader{r: io.MultiReader(strings.NewReader(`{"events":[`), bytes.NewReader(bytes.Repeat([]byte(" "), 8<<20)))}
			return c, c
		}, http.StatusRequestEntityTooLarge, "M_TOO_LARGE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newASRig(t, AppserviceOptions{MaxBodyBytes: 64 << 10})
			body, counter := tc.body()
			status, errcode := r.put(t, tc.path, tc.token, body)
			if status != tc.status || errcode != tc.errcode {
				t.Fatalf("answered %d %s, want %d %s", status, errcode, tc.status, tc.errcode)
			}
			if got := r.received(); len(got) != 0 {
				t.Fatalf("the sink got %v from a refused request", got)
			}
			if n := r.store.marks(); n != 0 {
				t.Fatalf("a refused request stored %d marks", n)
			}
			if counter != nil && counter.n.Load() >= 8<<20 {
				t.Fatalf("read %d bytes of an oversized body, want it refused before the end", counter.n.Load())
			}
		})
	}
}

func okBody() (io.Reader, *countingReader) {
	return strings.NewReader(txnJSON(textEvent("$a", "@alice:hs.test", "hi"))), nil
}

// An invite of the bot becomes InviteReceived; the other endpoints answer
// as the spec says, on both path forms, the legacy token too.
func TestAppserviceInvitesAndOtherEndpoints(t *testing.T) {
	r := newASRig(t, AppserviceOptions{})
	go func() { ackOf(<-r.sunk).Done() }()
	invite := `{"type":"m.room.member","room_id":"!dm:hs.test","event_id":"$inv","sender":"@alice:hs.test","state_key":"` + botID + `","content":{"membership":"invite","is_direct":true}}`
	if code, _ := r.put(t, "/transactions/t3", hsToken, strings.NewReader(txnJSON(invite))); code != http.StatusOK {
		t.Fatalf("invite transaction: %d", code)
	}
	if got := r.received(); len(got) != 1 {
		t.Fatalf("got %v", got)
	} else if inv, ok := got[0].(*actors.InviteReceived); !ok || inv.RoomID != "!dm:hs.test" || inv.Inviter != "@alice:hs.test" || !inv.IsDirect {
		t.Fatalf("got %#v, want alice's direct invite", got[0])
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/_matrix/app/v1/users/" + botID, http.StatusOK},
		{http.MethodGet, "/users/" + botID, http.StatusOK},
		{http.MethodGet, "/_matrix/app/v1/users/@someone:hs.test", http.StatusNotFound},
		{http.MethodGet, "/_matrix/app/v1/rooms/%23alias:hs.test", http.StatusNotFound},
		{http.MethodPost, "/_matrix/app/v1/ping", http.StatusOK},
		{http.MethodGet, "/_matrix/app/v1/thirdparty/protocol/x", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tc.method, r.srv.URL+tc.path+"?access_token="+hsToken, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
}

// Transactions are handed over in the order they came, and one whose
// events the tree has not acked yet does not hold the next back (the
// homeserver sends one at a time: a wait would stall every user).
func TestAppserviceTransactionsInOrder(t *testing.T) {
	r := newASRig(t, AppserviceOptions{})
	for i, text := range []string{"first", "second"} {
		body := txnJSON(textEvent(fmt.Sprintf("$%d", i+1), "@alice:hs.test", text))
		if code, _ := r.put(t, fmt.Sprintf("/_matrix/app/v1/transactions/%d", i+1), hsToken, strings.NewReader(body)); code != http.StatusOK {
			t.Fatalf("%s: %d, want 200 before any ack", text, code)
		}
	}
	var ids []string
	for _, m := range r.received() {
		ids = append(ids, m.(*actors.MessageReceived).EventID)
	}
	if want := []string{"$1", "$2"}; !slices.Equal(ids, want) {
		t.Fatalf("handed over %q, want %q", ids, want)
	}
}

// countingReader counts what was read of it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (m *memState) marked(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[id]
}

func (m *memState) marks() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

// eventually waits, up to a generous bound, for cond (what the background
// settling of a transaction does); it is not a timing assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The inbox of memState (see matrix.StateStore).

func (m *memState) AddToInbox(_ context.Context, key string, body []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	for _, e := range m.inbox {
		if e.key == key {
			return false, nil
		}
	}
	m.inbox = append(m.inbox, inboxEntry{key: key, body: slices.Clone(body)})
	return true, nil
}

func (m *memState) RemoveFromInbox(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inbox = slices.DeleteFunc(m.inbox, func(e inboxEntry) bool { return e.key == key })
	return nil
}

func (m *memState) Inbox(context.Context) (keys []string, bodies [][]byte, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.inbox {
		keys, bodies = append(keys, e.key), append(bodies, e.body)
	}
	return keys, bodies, nil
}

func (m *memState) inboxKeys() []string {
	keys, _, _ := m.Inbox(context.Background())
	return keys
}

type inboxEntry struct {
	key  string
	body []byte
}

// The bot's own echoes are dropped before any write (issue 23): a
// transaction of nothing else is answered without touching the store, and
// one that also holds a user's message hands over only that; the bot's own
// state events (an invite it sent) still reach the state they update.
func TestAppserviceEchoesCostNoWrite(t *testing.T) {
	r := newASRig(t, AppserviceOptions{})
	edit := fmt.Sprintf(`{"type":"m.room.message","room_id":"!r:hs.test","event_id":"$edit","sender":%q,"origin_server_ts":1,`+
		`"content":{"msgtype":"m.text","body":"* more","m.new_content":{"msgtype":"m.text","body":"more"},"m.relates_to":{"rel_type":"m.replace","event_id":"$reply"}}}`, botID)
	if code, errcode := r.put(t, "/_matrix/app/v1/transactions/echoes", hsToken, strings.NewReader(txnJSON(textEvent("$reply", botID, "reply"), edit))); code != 200 {
		t.Fatalf("echoes answered %d %s", code, errcode)
	}
	if code, errcode := r.put(t, "/_matrix/app/v1/transactions/ephemeral", hsToken, strings.NewReader(`{"events":[],"de.sorunome.msc2409.ephemeral":[{"type":"m.typing","room_id":"!r:hs.test","content":{"user_ids":[]}}]}`)); code != 200 {
		t.Fatalf("an ephemeral-only transaction answered %d %s", code, errcode)
	}
	r.store.mu.Lock()
	writes := r.store.writes
	r.store.mu.Unlock()
	if writes != 0 || len(r.received()) != 0 {
		t.Fatalf("echoes and ephemeral events: %d store writes, %d handed over; want none", writes, len(r.received()))
	}

	mixed := txnJSON(textEvent("$echo", botID, "reply"), textEvent("$a", "@alice:hs.test", "hello"))
	if code, errcode := r.put(t, "/_matrix/app/v1/transactions/mixed", hsToken, strings.NewReader(mixed)); code != 200 {
		t.Fatalf("mixed answered %d %s", code, errcode)
	}
	got := <-r.sunk
	if m, ok := got.(*actors.MessageReceived); !ok || m.EventID != "$a" {
		t.Fatalf("handed over %#v, want Alice's message", got)
	}
	ackOf(got).Done()
	select {
	case more := <-r.sunk:
		t.Fatalf("also handed over %#v", more)
	default:
	}
	if inbox, _, _ := r.store.Inbox(testContext(t)); len(inbox) > 1 {
		t.Fatalf("inbox %v", inbox)
	}
}
