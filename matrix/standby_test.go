package matrix

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStandbySyncFeedsTheMachineAndEmptiesTheInbox: a member standing by
// syncs its own device with a filter of its own (not the ingress's stored
// one), its to-device events and one-time key counts reach its crypto
// machine, and when it stops (it takes the ingress over) it syncs at once
// until the inbox is empty, acknowledging the last batch, without touching
// the ingress's stored position.
func TestStandbySyncFeedsTheMachineAndEmptiesTheInbox(t *testing.T) {
	ctx := testContext(t)
	hs, c := newMemberClient(t)
	if !c.NewDevice() {
		t.Fatal("the test's device is not new: the announcement check below means nothing")
	}
	hs.reset()

	withheldEvent := func(session string) string {
		return fmt.Sprintf(`{"type":"m.room_key.withheld","sender":"@alice:hs.test",`+
			`"content":{"algorithm":"m.megolm.v1.aes-sha2","room_id":"!r:hs.test","session_id":%q,"sender_key":"alicekey","code":"m.unverified","reason":"test"}}`, session)
	}
	// The homeserver's answers, by the request's since: a first batch
	// with a key notice and an empty one-time key count, then a long
	// poll with nothing new, which the stop ends; then, not waiting,
	// one more event, then nothing.
	polled := make(chan struct{}, 1)
	hs.handle(t, routeSync, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch since, timeout := q.Get("since"), q.Get("timeout"); {
		case since == "":
			writeJSON(w, 200, `{"next_batch":"s1","to_device":{"events":[`+withheldEvent("s-1")+`]},"device_one_time_keys_count":{"signed_curve25519":0}}`)
		case since == "s1" && timeout != "0":
			polled <- struct{}{}
			hs.block(r)
		case since == "s1":
			writeJSON(w, 200, `{"next_batch":"s2","to_device":{"events":[`+withheldEvent("s-2")+`]}}`)
		default:
			writeJSON(w, 200, `{"next_batch":"s3"}`)
		}
	})
	handOver := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- c.RunStandby(ctx, handOver) }()
	select {
	case <-polled:
	case <-time.After(20 * time.Second):
		t.Fatal("the standby sync never long-polled after its first batch")
	}
	if !withheld(ctx, t, c, "s-1") {
		t.Error("the first batch's to-device event did not reach the crypto machine")
	}
	close(handOver)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunStandby: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("RunStandby did not return after the hand-over")
	}
	if !withheld(ctx, t, c, "s-2") {
		t.Error("the to-device event waiting at the stop was not taken")
	}
	if c.NewDevice() {
		t.Error("a device that stood by is announced as new when it takes the ingress over")
	}

	var syncs []string
	for _, r := range requestsTo(hs, "/_matrix/client/v3/sync") {
		if !strings.Contains(r.Query, "filter=f1") {
			t.Errorf("a standby sync without its own filter: %s", r.Query)
		}
		syncs = append(syncs, r.Query)
	}
	last := syncs[len(syncs)-1]
	if !strings.Contains(last, "since=s2") || !strings.Contains(last, "timeout=0") {
		t.Errorf("the last sync %q does not acknowledge the last batch at once (since=s2, timeout=0)", last)
	}
	if f := requestsTo(hs, "/_matrix/client/v3/user/@bot:hs.test/filter"); len(f) != 1 || !strings.Contains(string(f[0].Body), "!surfaces-to-device-only:invalid") {
		t.Errorf("filter uploads %v, want one of the to-device filter", f)
	}
	if up := requestsTo(hs, "/_matrix/client/v3/keys/upload"); len(up) == 0 {
		t.Error("the empty one-time key count uploaded no keys")
	}
	st := c.store.(*memState)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.next != "" || slices.ContainsFunc([]string{"s1", "s2", "s3"}, func(s string) bool { return strings.Contains(fmt.Sprint(st.meta), s) }) {
		t.Errorf("the standby sync stored a position (next %q, meta %v): the stored one is the ingress's", st.next, st.meta)
	}
}

// TestStandbySyncStoppingDoesNotDrain: a member that stops while standing
// by (its context ends) leaves its device's inbox for its next start,
// instead of syncing on while it shuts down.
func TestStandbySyncStoppingDoesNotDrain(t *testing.T) {
	ctx := testContext(t)
	hs, c := newMemberClient(t)
	polled := make(chan struct{}, 1)
	hs.handle(t, routeSync, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("since") == "" {
			writeJSON(w, 200, `{"next_batch":"s1"}`)
			return
		}
		if r.URL.Query().Get("timeout") != "0" {
			polled <- struct{}{}
		}
		hs.block(r)
	})
	hs.reset()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.RunStandby(runCtx, make(chan struct{})) }()
	select {
	case <-polled:
	case <-time.After(20 * time.Second):
		t.Fatal("the standby sync never long-polled")
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunStandby: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("RunStandby did not return after its context ended")
	}
	for _, r := range requestsTo(hs, "/_matrix/client/v3/sync") {
		if strings.Contains(r.Query, "timeout=0") {
			t.Errorf("a stopping member drained its inbox: %s", r.Query)
		}
	}
}

// TestDrainDeviceEmptiesTheInboxOfAMemberTakingTheIngressAtOnce: a member
// that takes the ingress without standing by first takes what waits for
// its device, from the start of its inbox, and acknowledges it, so that
// the room sync from another device's position does not have the
// homeserver drop it; its new device is still announced (it did not stand
// by for the users' clients to learn of it).
func TestDrainDeviceEmptiesTheInboxOfAMemberTakingTheIngressAtOnce(t *testing.T) {
	ctx := testContext(t)
	hs, c := newMemberClient(t)
	hs.handle(t, routeSync, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("since") == "" {
			writeJSON(w, 200, `{"next_batch":"s1","to_device":{"events":[{"type":"m.room_key.withheld","sender":"@alice:hs.test",`+
				`"content":{"algorithm":"m.megolm.v1.aes-sha2","room_id":"!r:hs.test","session_id":"s-old","sender_key":"alicekey","code":"m.unverified","reason":"test"}}]}}`)
			return
		}
		writeJSON(w, 200, `{"next_batch":"s2"}`)
	})
	hs.reset()
	c.DrainDevice(ctx)
	if !withheld(ctx, t, c, "s-old") {
		t.Error("what waited for the device did not reach its crypto machine")
	}
	syncs := requestsTo(hs, "/_matrix/client/v3/sync")
	if len(syncs) != 2 || !strings.Contains(syncs[1].Query, "since=s1") || !strings.Contains(syncs[1].Query, "timeout=0") {
		t.Errorf("syncs %v, want the inbox from its start, then its acknowledgement at once", syncs)
	}
	if !c.NewDevice() {
		t.Error("a new device that took the ingress at once is not announced")
	}
}

// newMemberClient is a client of a fake homeserver with encryption on, as
// a member of a cluster with grains has it: an Olm account of its own.
func newMemberClient(t *testing.T) (*testHomeserver, *Client) {
	t.Helper()
	hs := newTestHomeserver(t)
	c := hs.connect(t)
	if err := c.EnableCrypto(testContext(t), CryptoOptions{Policy: "default", Path: filepath.Join(t.TempDir(), "crypto.db"), PickleKey: "pickle", Account: "member-b"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.crypto.db.Close() })
	return hs, c
}
