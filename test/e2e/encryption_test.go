package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// End-to-end encryption (PRODUCT R10), with a user whose client encrypts
// like Element: its own device keys, encrypted DMs. The bot's replies are
// checked as the user's client decrypts them.

// An encrypted DM (the default policy, "allowed"): the bot reads the
// invite's room, onboards the user, and answers !help there, encrypted.
func TestEncryptedDM(t *testing.T) {
	inEachMode(t, func(t *testing.T, opts harness.StackOptions) {
		encryptedDM(t, newWorldWith(t, opts, "alice", harness.WithCrypto()))
	})
	t.Run("appservice, keys pushed", func(t *testing.T) {
		w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"}, Appservice: true, KeysPushed: true}, "alice", harness.WithCrypto())
		encryptedDM(t, w)
		keysCameInTransactions(t, w)
	})
}

// keysCameInTransactions checks that the bot of a KeysPushed stack read its
// to-device events from transactions alone: the harness pushed some, and
// the bot never synced its device for them.
func keysCameInTransactions(t *testing.T, w *world) {
	t.Helper()
	if n := w.stack.KeysRelayed(); n == 0 {
		t.Error("no to-device event was pushed to the bot")
	}
	for _, path := range w.stack.BotLogs {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("syncing the bot's device for to-device events")) {
			t.Errorf("the bot synced its device for to-device events (%s): with to_device push it must not", path)
		}
		if !bytes.Contains(raw, []byte("to-device events come in the transactions")) {
			t.Errorf("the bot did not say its to-device events come in the transactions (%s)", path)
		}
	}
}

func encryptedDM(t *testing.T, w *world) {
	ctx, cancel := w.wait()
	defer cancel()
	dm, err := w.alice.CreateDM(ctx, w.stack.BotID)
	if err != nil {
		t.Fatal(err)
	}
	if !roomEncrypted(t, w, dm) {
		t.Fatal("the test client's DM is not encrypted")
	}
	pointer, err := w.alice.WaitMessage(ctx, dm, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && strings.Contains(m.FinalBody, "Chat 1")
	})
	if err != nil {
		t.Fatalf("no pointer to Chat 1 in the encrypted DM: %v", err)
	}
	if !pointer.Encrypted {
		t.Error("the bot's message in the encrypted DM was sent in the clear")
	}
	help := w.askIn(dm, "!help", func(m harness.Message) bool { return strings.Contains(m.FinalBody, "!new") })
	if !help.Encrypted {
		t.Error("the answer to !help in the encrypted DM was sent in the clear")
	}
}

// Under "default" the chats the bot makes are encrypted: a streamed reply
// arrives as encrypted events whose decrypted final edit holds the whole
// text; the bot still reads after a restart; a message whose key never
// comes gets one key request and one notice, and the room keeps working;
// after a wiped state directory the user is told the bot's device changed,
// and the new device reads the room.
//
// It runs in both modes: syncing, and as an application service whose
// device syncs for its to-device events alone (issue 23), or takes them
// from the transactions (to_device: push, relayed by the harness).
func TestEncryptedChatsByDefault(t *testing.T) {
	for _, mode := range []struct {
		name       string
		appservice bool
		// postgres keeps the records and the keys in PostgreSQL
		// (persistence.backend postgres, issue 24).
		postgres   bool
		keysPushed bool
	}{
		{"client", false, false, false},
		{"appservice", true, false, false},
		{"appservice, keys pushed", true, false, true},
		{"client on PostgreSQL", false, true, false},
	} {
		t.Run(mode.name, func(t *testing.T) {
			env := []string{"SURFACES_MATRIX_ENCRYPTION=default", "SURFACES_MATRIX_KEY_WAIT=4s"}
			dsn := ""
			if mode.postgres {
				var pgEnv []string
				dsn, pgEnv = postgresState(t)
				env = append(env, pgEnv...)
			}
			w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"}, Appservice: mode.appservice, KeysPushed: mode.keysPushed, BotEnv: env},
				"alice", harness.WithCrypto())
			encryptedChatsByDefault(t, w, mode.appservice, dsn)
			if mode.keysPushed {
				keysCameInTransactions(t, w)
			}
		})
	}
}

// encryptedChatsByDefault runs the encrypted-chat checks on w; dsn is the
// bot's PostgreSQL database, "" when its state is in the state directory.
func encryptedChatsByDefault(t *testing.T, w *world, appservice bool, dsn string) {
	w.onboard()
	if !roomEncrypted(t, w, w.chat) {
		t.Fatal("Chat 1 is not encrypted under the default policy")
	}
	if roomEncrypted(t, w, w.space) {
		t.Error("the Space is encrypted; it should stay plain")
	}

	t.Run("a streamed reply is encrypted, edits included", func(t *testing.T) {
		reply := w.ask("/slow 4", func(m harness.Message) bool {
			return strings.TrimSpace(m.FinalBody) == "chunk 1 chunk 2 chunk 3 chunk 4"
		})
		if !reply.Encrypted || reply.Edits == 0 || !reply.EditsEncrypted {
			t.Errorf("reply encrypted=%v, %d edits, edits encrypted=%v: want an encrypted message and encrypted edits",
				reply.Encrypted, reply.Edits, reply.EditsEncrypted)
		}
	})

	t.Run("read after a restart", func(t *testing.T) {
		if err := w.stack.StopBot(); err != nil {
			t.Fatal(err)
		}
		if err := w.stack.StartBot(w.ctx); err != nil {
			t.Fatal(err)
		}
		if reply := w.ask("after the restart", func(m harness.Message) bool { return m.FinalBody == "echo: after the restart" }); !reply.Encrypted {
			t.Error("the reply after the restart was sent in the clear")
		}
	})

	t.Run("files go both ways as encrypted attachments", func(t *testing.T) {
		ctx, cancel := w.wait()
		defer cancel()
		data := make([]byte, 100<<10)
		rand.Read(data)
		if _, err := w.alice.SendFile(ctx, w.chat, "secret.bin", "application/octet-stream", data, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
			return m.Sender == w.stack.BotID && strings.Contains(m.FinalBody, `Got **secret\.bin**`)
		}); err != nil {
			t.Fatalf("no confirmation of the encrypted file: %v", err)
		}
		w.ask("with the secret file", func(m harness.Message) bool { return strings.HasPrefix(m.FinalBody, "echo: with the secret file") })
		ws := filepath.Join(w.stack.Dir(), "agents", "0")
		var atts []string
		for _, r := range w.stack.Agent.Received() {
			if r.Text == "with the secret file" {
				atts = r.Attachments
			}
		}
		if len(atts) != 1 {
			t.Fatalf("the agent got attachments %q, want the file", atts)
		}
		if got, err := os.ReadFile(filepath.Join(ws, atts[0])); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("the agent's copy of the encrypted file differs (%d bytes, %v)", len(got), err)
		}

		if err := os.MkdirAll(filepath.Join(ws, "output"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ws, "output", "back.bin"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		w.ask("/sendfile output/back.bin", func(m harness.Message) bool { return m.FinalBody == "after" })
		// Waited for, not looked up: Alice decrypts each event on its own
		// goroutine, so the file (posted before "after") may still be
		// decrypting when "after" is read (a CI run failed on exactly that).
		file, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
			return m.Sender == w.stack.BotID && m.MsgType == event.MsgFile
		})
		if err != nil {
			t.Fatalf("no file message from the agent: %v", err)
		}
		if !file.Encrypted || file.Content.File == nil || file.Content.URL != "" {
			t.Fatalf("the agent's file went out as encrypted=%v with file=%v url=%q: want an encrypted attachment", file.Encrypted, file.Content.File != nil, file.Content.URL)
		}
		raw, err := w.alice.Download(ctx, file.Content.File.URL)
		if err != nil || bytes.Equal(raw, data) {
			t.Fatalf("the homeserver holds the file in the clear (or not at all: %v)", err)
		}
		got, err := w.alice.DownloadFile(ctx, file.Content)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("the decrypted file differs (%d bytes, %v)", len(got), err)
		}
	})

	t.Run("a message whose key never comes", func(t *testing.T) {
		ctx, cancel := w.wait()
		defer cancel()
		lost, err := w.alice.SendTextUnshared(ctx, w.chat, "nobody can read this")
		if err != nil {
			t.Fatal(err)
		}
		notice, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
			return m.Sender == w.stack.BotID && strings.Contains(m.FinalBody, "couldn't decrypt") && afterEvent(w, w.chat, lost, m)
		})
		if err != nil {
			t.Fatalf("no notice about the undecryptable message: %v", err)
		}
		if !notice.Encrypted {
			t.Error("the notice was sent in the clear")
		}
		w.ask("still readable?", func(m harness.Message) bool { return m.FinalBody == "echo: still readable?" })
		requests := countLines(w.stack.Bot.StdoutLines(), regexp.MustCompile(`"message":"room key requested"`))
		notices := 0
		for _, m := range w.alice.Messages(w.chat) {
			if m.Sender == w.stack.BotID && strings.Contains(m.FinalBody, "couldn't decrypt") {
				notices++
			}
		}
		if requests != 1 || notices != 1 {
			t.Errorf("%d key requests and %d notices for one undecryptable message, want 1 and 1", requests, notices)
		}
		for _, r := range w.stack.Agent.Received() {
			if r.Text == "nobody can read this" {
				t.Error("the agent got the undecryptable message")
			}
		}
	})

	t.Run("a wiped state directory means a new device, announced", func(t *testing.T) {
		if appservice {
			// The appservice's device is the one the homeserver made for its
			// token: the same device id after a wipe, with keys on the
			// server that no store holds. The bot refuses to start then
			// (ErrCryptoStore) rather than be unreadable; not a new device.
			t.Skip("appservice mode keeps one device, made by the homeserver: a wiped state directory stops the bot instead")
		}
		if err := w.stack.StopBot(); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(w.stack.Dir(), "state")); err != nil {
			t.Fatal(err)
		}
		if dsn != "" {
			// The keys are in the database: wipe it as `surfaces reset
			// --mode local-only` does.
			wipePostgres(t, dsn)
		}
		if err := w.stack.StartBot(w.ctx); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := w.wait()
		defer cancel()
		announced, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
			return m.Sender == w.stack.BotID && strings.Contains(m.FinalBody, "new device")
		})
		if err != nil {
			t.Fatalf("the new device was not announced in Chat 1: %v", err)
		}
		if !announced.Encrypted {
			t.Error("the announcement was sent in the clear")
		}
		if err := w.alice.KnowDevices(ctx, w.stack.BotID); err != nil {
			t.Fatal(err)
		}
		w.ask("hello, new device", func(m harness.Message) bool { return m.FinalBody == "echo: hello, new device" })
	})
}

// roomEncrypted reports whether roomID's state has m.room.encryption, as
// the user sees it.
func roomEncrypted(t *testing.T, w *world, roomID id.RoomID) bool {
	t.Helper()
	ctx, cancel := w.wait()
	defer cancel()
	state, err := w.alice.RoomState(ctx, roomID)
	if err != nil {
		t.Fatal(err)
	}
	_, ok := state[event.StateEncryption][""]
	return ok
}

func countLines(lines []string, re *regexp.Regexp) int {
	n := 0
	for _, l := range lines {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

// The bot's device is self-verified (PRODUCT R10.1): the first start with
// encryption sets cross-signing up and prints the recovery key once (to
// stderr, not the log); a restart prints nothing; with the key configured,
// the new device after a wiped state directory is signed by the same
// self-signing key.
func TestCrossSigning(t *testing.T) {
	w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"}}, "alice", harness.WithCrypto())
	keyLine := regexp.MustCompile(`surfaces: recovery key: ([1-9A-HJ-NP-Za-km-z ]+)`)
	printed := func(logPath string) []string {
		var keys []string
		for _, l := range strings.Split(string(mustRead(t, logPath)), "\n") {
			if m := keyLine.FindStringSubmatch(l); m != nil {
				keys = append(keys, strings.TrimSpace(m[1]))
			}
		}
		return keys
	}
	keys := printed(w.stack.Bot.LogPath())
	if len(keys) != 1 {
		t.Fatalf("the first start printed %d recovery keys, want 1", len(keys))
	}
	for _, l := range w.stack.Bot.StdoutLines() {
		if strings.Contains(l, keys[0]) {
			t.Fatal("the recovery key is in the log")
		}
	}
	ssk := crossSignedBy(t, w, botDevice(t, w))
	if ssk == "" {
		t.Fatal("the bot's device is not signed by its self-signing key")
	}

	if err := w.stack.StopBot(); err != nil {
		t.Fatal(err)
	}
	if err := w.stack.StartBot(w.ctx); err != nil {
		t.Fatal(err)
	}
	if again := printed(w.stack.Bot.LogPath()); len(again) != 0 {
		t.Fatalf("a restart printed a recovery key again: %d", len(again))
	}

	if err := w.stack.StopBot(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(w.stack.Dir(), "state")); err != nil {
		t.Fatal(err)
	}
	w.stack.SetBotEnv("SURFACES_MATRIX_RECOVERY_KEY=" + keys[0])
	if err := w.stack.StartBot(w.ctx); err != nil {
		t.Fatal(err)
	}
	device := botDevice(t, w)
	if got := crossSignedBy(t, w, device); got != ssk {
		t.Fatalf("the new device %s is signed by %q, want the account's self-signing key %q", device, got, ssk)
	}
	if again := printed(w.stack.Bot.LogPath()); len(again) != 0 {
		t.Fatal("the new device set cross-signing up again instead of using the recovery key")
	}
}

// botDevice is the device the running bot logged in with.
func botDevice(t *testing.T, w *world) id.DeviceID {
	t.Helper()
	var device id.DeviceID
	for _, l := range w.stack.Bot.StdoutLines() {
		var line struct {
			Message  string `json:"message"`
			DeviceID string `json:"device_id"`
		}
		if json.Unmarshal([]byte(l), &line) == nil && line.Message == "logged in" {
			device = id.DeviceID(line.DeviceID)
		}
	}
	if device == "" {
		t.Fatal("the bot did not log its device")
	}
	return device
}

// crossSignedBy returns the bot's self-signing key when it signed device
// (as the user's client sees the keys), else "".
func crossSignedBy(t *testing.T, w *world, device id.DeviceID) string {
	t.Helper()
	ctx, cancel := w.wait()
	defer cancel()
	bot := w.stack.BotID
	resp, err := w.alice.Client().QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: map[id.UserID]mautrix.DeviceIDList{bot: {}}})
	if err != nil {
		t.Fatal(err)
	}
	ssk, ok := resp.SelfSigningKeys[bot]
	if !ok {
		return ""
	}
	keys, ok := resp.DeviceKeys[bot][device]
	if !ok {
		t.Fatalf("the homeserver has no keys for the bot's device %s", device)
	}
	for keyID := range ssk.Keys {
		if _, signed := keys.Signatures[bot][keyID]; signed {
			return string(keyID)
		}
	}
	return ""
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Encryption turned on for a bot that already serves users: its sync
// position is older than its new crypto store, so no sync tells the store
// that the user's DM is encrypted. The bot still reads there and answers
// encrypted (it asks the homeserver before its first send), never in the
// clear.
func TestEncryptionTurnedOnLater(t *testing.T) {
	w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"}, BotEnv: []string{
		"SURFACES_MATRIX_ENCRYPTION=off",
	}}, "alice", harness.WithCrypto())
	ctx, cancel := w.wait()
	defer cancel()
	dm, err := w.alice.CreateDM(ctx, w.stack.BotID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.alice.WaitMessage(ctx, dm, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && strings.Contains(m.FinalBody, "Chat 1")
	}); err != nil {
		t.Fatalf("no onboarding with encryption off: %v", err)
	}
	if err := w.stack.StopBot(); err != nil {
		t.Fatal(err)
	}
	w.stack.SetBotEnv("SURFACES_MATRIX_ENCRYPTION=allowed")
	if err := w.stack.StartBot(w.ctx); err != nil {
		t.Fatal(err)
	}
	// The user's client must know the bot's new device before it writes:
	// otherwise the room key goes to nobody there (a person would then be
	// asked to resend, see the undecryptable case).
	if err := w.alice.KnowDevices(ctx, w.stack.BotID); err != nil {
		t.Fatal(err)
	}
	help := w.askIn(dm, "!help", func(m harness.Message) bool { return strings.Contains(m.FinalBody, "!new") })
	if !help.Encrypted {
		t.Error("after encryption was turned on, the bot answered in the encrypted DM in the clear")
	}
}
