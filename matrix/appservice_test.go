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
	store *memState
	mu    sync.Mutex
	got   []any
	sunk  chan any
}

func newASRig(t *testing.T, opts AppserviceOptions) *asRig {
	t.Helper()
	cli, err := mautrix.NewClient("http://127.0.0.1:1", id.UserID(botID), "")
	if err != nil {
		t.Fatal(err)
	}
	r := &asRig{store: newMemState(), sunk: make(chan any, 100)}
	c := &Client{cli: cli, store: r.store, pos: newPosition(r.store, botID, 0)}
	if opts.HSToken == "" {
		opts.HSToken = hsToken
	}
	as := c.Appservice(context.Background(), func(m any) {
		r.mu.Lock()
		r.got = append(r.got, m)
		r.mu.Unlock()
		r.sunk <- m
	}, opts)
	r.srv = httptest.NewServer(as.Handler())
	t.Cleanup(r.srv.Close)
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

// A transaction is answered only once the tree acked its events; sent
// again, it gets 200 and nothing is handed over twice (issue 23, point 2).
func TestAppserviceTransactionWaitsForAcksAndIsHandledOnce(t *testing.T) {
	r := newASRig(t, AppserviceOptions{})
	status := make(chan int, 1)
	// An invite carries no handled-mark of its own: only the kept
	// transaction id keeps a repeat from handing it over again.
	invite := `{"type":"m.room.member","room_id":"!dm:hs.test","event_id":"$inv","sender":"@bob:hs.test","state_key":"` + botID + `","content":{"membership":"invite"}}`
	body := txnJSON(textEvent("$a", "@alice:hs.test", "hello"), textEvent("$own", botID, "the bot's own echo"), invite)
	go func() {
		code, _ := r.put(t, "/_matrix/app/v1/transactions/t1", hsToken, strings.NewReader(body))
		status <- code
	}()
	// Invites are handed over first, as in a sync response.
	inv, msg := <-r.sunk, <-r.sunk
	if _, ok := inv.(*actors.InviteReceived); !ok {
		t.Fatalf("first %#v, want bob's invite", inv)
	}
	ackOf(inv).Done()
	m, ok := msg.(*actors.MessageReceived)
	if !ok || m.EventID != "$a" || m.Body != "hello" {
		t.Fatalf("the sink got %#v, want alice's message", msg)
	}
	select {
	case code := <-status:
		t.Fatalf("answered %d before the tree acked the event", code)
	case <-time.After(100 * time.Millisecond): // not a timing assertion: no answer is allowed at all
	}
	m.Ack.Done()
	if code := <-status; code != http.StatusOK {
		t.Fatalf("answered %d once acked, want 200", code)
	}
	if !r.store.marked("$a") || !r.store.marked(markOf(t, "t1", body)) {
		t.Fatal("want the event and the transaction marked handled")
	}
	if code, _ := r.put(t, "/_matrix/app/v1/transactions/t1", hsToken, strings.NewReader(body)); code != http.StatusOK {
		t.Fatalf("the same transaction again: %d, want 200", code)
	}
	if got := r.received(); len(got) != 2 {
		t.Fatalf("the sink got %d messages in all, want 2: the bot's echo dropped, the repeat not handled", len(got))
	}
}

// Without all its acks in time a transaction is answered 503 (the
// homeserver sends it again), keeping the marks of what was acked: the
// repeat hands over only the rest.
func TestAppserviceTransactionNotAckedInTimeIsSentAgain(t *testing.T) {
	r := newASRig(t, AppserviceOptions{AckWait: 200 * time.Millisecond})
	body := txnJSON(textEvent("$a", "@alice:hs.test", "one"), textEvent("$b", "@alice:hs.test", "two"))
	go func() {
		first := <-r.sunk
		ackOf(first).Done()
		<-r.sunk // "two" is never acked
	}()
	if code, _ := r.put(t, "/_matrix/app/v1/transactions/t2", hsToken, strings.NewReader(body)); code != http.StatusServiceUnavailable {
		t.Fatalf("answered %d with an event unacked, want 503", code)
	}
	if !r.store.marked("$a") || r.store.marked("$b") || r.store.marked(markOf(t, "t2", body)) {
		t.Fatal("want only the acked event marked handled")
	}
	done := make(chan int, 1)
	go func() {
		code, _ := r.put(t, "/_matrix/app/v1/transactions/t2", hsToken, strings.NewReader(body))
		done <- code
	}()
	again := <-r.sunk
	if m, ok := again.(*actors.MessageReceived); !ok || m.EventID != "$b" {
		t.Fatalf("sent again, the sink got %#v, want only the unacked $b", again)
	}
	ackOf(again).Done()
	if code := <-done; code != http.StatusOK {
		t.Fatalf("the repeat answered %d, want 200", code)
	}
}

// markOf is the handled-mark of the transaction txnID with body.
func markOf(t *testing.T, txnID, body string) string {
	t.Helper()
	var tb transactionBody
	if err := json.Unmarshal([]byte(body), &tb); err != nil {
		t.Fatal(err)
	}
	return txnMark(txnID, tb.Events)
}

// Dendrite sends a transaction it got no answer to again under the same id
// with the events that arrived meanwhile added: the added ones are handed
// over, the ones handled are not, and a repeat of either as it was changes
// nothing.
func TestAppserviceTransactionIDReusedWithMoreEvents(t *testing.T) {
	r := newASRig(t, AppserviceOptions{})
	first := txnJSON(textEvent("$a", "@alice:hs.test", "one"))
	more := txnJSON(textEvent("$a", "@alice:hs.test", "one"), textEvent("$b", "@alice:hs.test", "two"))
	go func() {
		for m := range r.sunk {
			ackOf(m).Done()
		}
	}()
	t.Cleanup(func() { close(r.sunk) }) // before the server closes: nothing is sunk after the puts
	for _, body := range []string{first, more, first, more} {
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

// Transactions are handled one at a time, in order: a second one waits
// until the first is answered.
func TestAppserviceTransactionsInOrder(t *testing.T) {
	r := newASRig(t, AppserviceOptions{})
	first, second := make(chan int, 1), make(chan int, 1)
	go func() {
		code, _ := r.put(t, "/_matrix/app/v1/transactions/1", hsToken, strings.NewReader(txnJSON(textEvent("$1", "@alice:hs.test", "first"))))
		first <- code
	}()
	m1 := <-r.sunk
	go func() {
		code, _ := r.put(t, "/_matrix/app/v1/transactions/2", hsToken, strings.NewReader(txnJSON(textEvent("$2", "@alice:hs.test", "second"))))
		second <- code
	}()
	select {
	case m := <-r.sunk:
		t.Fatalf("the second transaction was handled (%#v) while the first waited for its ack", m)
	case <-time.After(100 * time.Millisecond): // nothing may come at all
	}
	ackOf(m1).Done()
	if code := <-first; code != http.StatusOK {
		t.Fatalf("first: %d", code)
	}
	m2 := <-r.sunk
	if m, ok := m2.(*actors.MessageReceived); !ok || m.EventID != "$2" {
		t.Fatalf("then %#v, want the second", m2)
	}
	ackOf(m2).Done()
	if code := <-second; code != http.StatusOK {
		t.Fatalf("second: %d", code)
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
