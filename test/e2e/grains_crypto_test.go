package e2e

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

var (
	// loggedInDevice is a member's log line after its login, with its
	// device.
	loggedInDevice = regexp.MustCompile(`"device_id":"([^"]+)".*"message":"logged in"`)
	// standbySyncing is a member's line as its own device starts syncing
	// for its keys.
	standbySyncing = regexp.MustCompile(`"message":"syncing this member's device for its keys while another member holds the ingress"`)
)

// TestClusterGrainsEncrypted: with cluster.grains and encryption, every
// member logs in as a device of its own and encrypts what the rooms placed
// on it send with it (issue 24). A chat placed on member-b gets encrypted
// replies alice reads; a device alice adds later reads member-b's next
// replies (the ingress holder, which sees her device list change, ends
// every member's room key, not only its own); and when the holder is
// killed, member-b takes the ingress over and reads alice's encrypted
// messages with its own device's keys, which its standby sync took in.
func TestClusterGrainsEncrypted(t *testing.T) {
	_, env := postgresState(t)
	env = append(env, "SURFACES_CLUSTER_ENABLED=true", "SURFACES_CLUSTER_MEMBER_ID=member-a", "SURFACES_CLUSTER_GRAINS=true",
		"SURFACES_MATRIX_ENCRYPTION=default", "SURFACES_MATRIX_KEY_WAIT=4s")
	w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"}, BotEnv: env}, "alice", harness.WithCrypto())
	ctx, cancel := w.wait()
	defer cancel()
	if _, err := w.stack.Bot.WaitForLine(ctx, hostingGrains); err != nil {
		t.Fatalf("member-a hosts no grains: %v\n%s", err, w.stack.Bot.LogTail(20))
	}
	b, _ := startMember(t, w, "member-b")
	for _, line := range []*regexp.Regexp{hostingGrains, standingBy, standbySyncing} {
		if _, err := b.WaitForLine(ctx, line); err != nil {
			t.Fatalf("member-b never logged %s: %v\n%s", line, err, b.LogTail(20))
		}
	}
	deviceOf := func(p *harness.Process) string {
		m, err := p.WaitForLine(ctx, loggedInDevice)
		if err != nil {
			t.Fatal(err)
		}
		return m[1]
	}
	if a, b := deviceOf(w.stack.Bot), deviceOf(b); a == b {
		t.Fatalf("both members logged in as device %s, want a device each", a)
	}
	w.onboard()
	if !roomEncrypted(t, w, w.chat) {
		t.Fatal("Chat 1 is not encrypted under the default policy")
	}

	onB := chatServedBy(t, w, b, func(room id.RoomID, reply harness.Message) {
		if !reply.Encrypted {
			t.Fatalf("the reply in %s was sent in the clear", room)
		}
	})

	t.Run("a new device of the user reads member-b's next replies", func(t *testing.T) {
		ctx, cancel := w.wait()
		defer cancel()
		phone, err := w.stack.Login(ctx, "alice", harness.WithCrypto())
		if err != nil {
			t.Fatal(err)
		}
		defer phone.Close()
		// The holder learns of the device from its sync, a moment after
		// the login: ask until a reply is readable there, a few times.
		for i := 1; ; i++ {
			text := "on the phone " + strconv.Itoa(i)
			w.askIn(onB, text, func(m harness.Message) bool { return m.FinalBody == "echo: "+text })
			readCtx, cancelRead := context.WithTimeout(ctx, 5*time.Second)
			_, err := phone.WaitMessage(readCtx, onB, func(m harness.Message) bool { return m.FinalBody == "echo: "+text })
			cancelRead()
			if err == nil {
				break
			}
			if i == 5 {
				t.Fatalf("the user's new device could read none of member-b's 5 replies after it logged in: %v", err)
			}
		}
	})

	t.Run("the member taking the ingress over reads the user's messages", func(t *testing.T) {
		ctx, cancel := w.wait()
		defer cancel()
		if err := w.stack.KillBot(); err != nil {
			t.Fatal(err)
		}
		if _, err := b.WaitForLine(ctx, tookOver); err != nil {
			t.Fatalf("member-b did not take the ingress over: %v\n%s", err, b.LogTail(20))
		}
		for _, room := range []id.RoomID{onB, w.chat} {
			reply := w.askIn(room, "after the takeover", func(m harness.Message) bool { return m.FinalBody == "echo: after the takeover" })
			if !reply.Encrypted {
				t.Errorf("the reply in %s after the takeover was sent in the clear", room)
			}
		}
		// member-b's device stood by with the users' keys: it is no new
		// device to them, and says nothing of the kind.
		for _, room := range []id.RoomID{onB, w.chat} {
			for _, m := range w.alice.Messages(room) {
				if m.Sender == w.stack.BotID && strings.HasPrefix(m.FinalBody, "My encryption keys changed") {
					t.Errorf("member-b announced a new device in %s after the takeover", room)
				}
			}
		}
	})
}
