package e2e

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"maunium.net/go/mautrix"
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
	dsn, env := postgresState(t)
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
	deviceA, deviceB := deviceOf(w.stack.Bot), deviceOf(b)
	if deviceA == deviceB {
		t.Fatalf("both members logged in as device %s, want a device each", deviceA)
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

	t.Run("a member retired for good loses its device and keys", func(t *testing.T) {
		ctx, cancel := w.wait()
		defer cancel()
		bin, env := w.stack.BotBinary(), w.stack.BotEnv()
		if code, _, stderr := runTool(ctx, t, bin, env, "cluster", "retire", "member-b"); code != 1 || !strings.Contains(stderr, `member "member-b" is running`) {
			t.Fatalf("retiring the running member-b: exit %d, %q; want 1 and a line saying it runs", code, stderr)
		}
		if !slices.Contains(botDevices(ctx, t, w.alice, w.stack.BotID), deviceB) {
			t.Fatalf("the refused retire deleted member-b's device %s", deviceB)
		}
		// member-a was killed above: its process is gone for good.
		code, stdout, stderr := runTool(ctx, t, bin, env, "cluster", "retire", "member-a")
		if code != 0 || !strings.Contains(stdout, "deleted its device "+deviceA) {
			t.Fatalf("retiring member-a: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		if devices := botDevices(ctx, t, w.alice, w.stack.BotID); slices.Contains(devices, deviceA) || !slices.Contains(devices, deviceB) {
			t.Fatalf("the bot's devices after member-a retired: %q, want %s gone and %s kept", devices, deviceA, deviceB)
		}
		if n := cryptoAccountRows(ctx, t, dsn, w.stack.BotID.String()+"/member-a"); n != 0 {
			t.Errorf("%d rows of member-a's Olm account are left in the crypto store", n)
		}
		if n := cryptoAccountRows(ctx, t, dsn, w.stack.BotID.String()+"/member-b"); n == 0 {
			t.Error("member-b's Olm account went with member-a's")
		}
		if line := statusLine(clusterStatus(t, w), "member-a"); line != "" {
			t.Errorf("cluster status still lists the retired member: %q", line)
		}
		// Again (or a typo): nothing is known of it, which must not read
		// as done.
		if code, stdout, stderr := runTool(ctx, t, bin, env, "cluster", "retire", "member-a"); code != 1 || !strings.Contains(stderr, `no member "member-a"`) {
			t.Fatalf("retiring member-a again: exit %d\nstdout: %s\nstderr: %s; want 1 and a line saying there is no such member", code, stdout, stderr)
		}
		reply := w.askIn(w.chat, "after the retirement", func(m harness.Message) bool { return m.FinalBody == "echo: after the retirement" })
		if !reply.Encrypted {
			t.Error("the reply after member-a retired was sent in the clear")
		}
	})
}

// botDevices lists the bot's devices with keys, as u's client asks the
// homeserver before sharing a room key.
func botDevices(ctx context.Context, t *testing.T, u *harness.UserClient, bot id.UserID) []string {
	t.Helper()
	resp, err := u.Client().QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{bot: {}}})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for device := range resp.DeviceKeys[bot] {
		out = append(out, device.String())
	}
	slices.Sort(out)
	return out
}

// cryptoAccountRows counts the crypto store's rows of Olm account.
func cryptoAccountRows(ctx context.Context, t *testing.T, dsn, account string) int {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM crypto_account WHERE account_id = $1)
		+ (SELECT count(*) FROM crypto_olm_session WHERE account_id = $1)
		+ (SELECT count(*) FROM crypto_megolm_inbound_session WHERE account_id = $1)
		+ (SELECT count(*) FROM crypto_megolm_outbound_session WHERE account_id = $1)
		+ (SELECT count(*) FROM crypto_secrets WHERE account_id = $1)
		+ (SELECT count(*) FROM crypto_olm_message_hash WHERE account_id = $1)`, account).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
