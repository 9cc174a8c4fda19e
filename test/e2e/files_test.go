package e2e

import (
	"bytes"
	"crypto/rand"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// Files both ways through the shared volume (PRODUCT R4), on the real
// Dendrite with the built binary and the reference agent.
func TestFilesBothWays(t *testing.T) {
	inEachMode(t, func(t *testing.T, opts harness.StackOptions) {
		opts.BotEnv = []string{"SURFACES_WORKSPACE_MAX_FILE_SIZE=1MiB"}
		filesBothWays(t, newWorldWith(t, opts, "alice"))
	})
}

func filesBothWays(t *testing.T, w *world) {
	w.onboard()
	ctx, cancel := w.wait()
	defer cancel()
	ws := filepath.Join(w.stack.Dir(), "agents", "0")
	bot := w.stack.BotID
	received := func(text string) []string {
		t.Helper()
		for _, r := range w.stack.Agent.Received() {
			if r.Text == text {
				return r.Attachments
			}
		}
		t.Fatalf("the agent never received %q", text)
		return nil
	}
	sendFile := func(name, mime string, data []byte, caption string) {
		t.Helper()
		if _, err := w.alice.SendFile(ctx, w.chat, name, mime, data, caption); err != nil {
			t.Fatal(err)
		}
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}

	t.Run("a file goes to the agent with the next message, byte for byte", func(t *testing.T) {
		data := random(200 << 10)
		sendFile("data.bin", "application/octet-stream", data, "")
		if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
			return m.Sender == bot && strings.Contains(m.FinalBody, `Got **data\.bin**`)
		}); err != nil {
			t.Fatalf("no confirmation: %v", err)
		}
		w.ask("here", func(m harness.Message) bool { return strings.HasPrefix(m.FinalBody, "echo: here") })
		atts := received("here")
		if len(atts) != 1 || !strings.HasPrefix(atts[0], "incoming/") {
			t.Fatalf("the agent got attachments %q, want one under incoming/", atts)
		}
		got, err := os.ReadFile(filepath.Join(ws, atts[0]))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("the agent's copy differs (%d bytes, %v)", len(got), err)
		}
	})

	t.Run("a file with a caption starts a turn at once", func(t *testing.T) {
		sendFile("notes.txt", "text/plain", []byte("notes"), "what is in it?")
		w.ask("then this", func(m harness.Message) bool { return strings.HasPrefix(m.FinalBody, "echo: then this") })
		if atts := received("what is in it?"); len(atts) != 1 {
			t.Fatalf("the captioned turn carried %q, want the file", atts)
		}
	})

	t.Run("files the agent sends arrive byte for byte, in either path form", func(t *testing.T) {
		data := random(300 << 10)
		os.MkdirAll(filepath.Join(ws, "output"), 0o755)
		if err := os.WriteFile(filepath.Join(ws, "output", "x.bin"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"output/x.bin", "/workspace/output/x.bin"} {
			w.ask("/sendfile "+p, func(m harness.Message) bool { return m.FinalBody == "after" })
			msgs := w.alice.Messages(w.chat)
			var file *harness.Message
			for i := len(msgs) - 1; i >= 0; i-- {
				if msgs[i].Sender == bot && msgs[i].MsgType == event.MsgFile {
					file = &msgs[i]
					break
				}
			}
			if file == nil {
				t.Fatalf("no file message for %s", p)
			}
			got, err := w.alice.Download(ctx, file.Content.URL)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: downloaded %d bytes (%v), want the agent's %d", p, len(got), err, len(data))
			}
		}
	})

	t.Run("a PNG comes back as an image with its size", func(t *testing.T) {
		var buf bytes.Buffer
		png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 7, 5)))
		os.WriteFile(filepath.Join(ws, "output", "chart.png"), buf.Bytes(), 0o644)
		w.ask("/sendfile output/chart.png", func(m harness.Message) bool { return m.FinalBody == "after" })
		img, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool { return m.Sender == bot && m.MsgType == event.MsgImage })
		if err != nil {
			t.Fatal(err)
		}
		if info := img.Content.Info; info == nil || info.Width != 7 || info.Height != 5 || info.MimeType != "image/png" {
			t.Fatalf("image info %+v, want a 7×5 image/png", img.Content.Info)
		}
	})

	t.Run("hostile paths are refused and the next turn works", func(t *testing.T) {
		secret := filepath.Join(t.TempDir(), "secret")
		os.WriteFile(secret, []byte("secret"), 0o644)
		os.Symlink(secret, filepath.Join(ws, "output", "leak"))
		before := countFiles(w)
		for _, p := range []string{"../../etc/passwd", "/etc/passwd", "output/leak"} {
			w.ask("/sendfile "+p, func(m harness.Message) bool {
				return m.MsgType == event.MsgNotice && strings.Contains(m.FinalBody, "outside its workspace")
			})
		}
		w.ask("fine?", func(m harness.Message) bool { return m.FinalBody == "echo: fine?" })
		if after := countFiles(w); after != before {
			t.Fatalf("%d files were sent for hostile paths", after-before)
		}
	})

	t.Run("an oversized upload is refused and leaves no file", func(t *testing.T) {
		sendFile("huge.bin", "application/octet-stream", random(2<<20), "")
		if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
			return m.Sender == bot && strings.Contains(m.FinalBody, "too large")
		}); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(filepath.Join(ws, "incoming"))
		for _, e := range entries {
			if strings.Contains(e.Name(), "huge") || strings.HasPrefix(e.Name(), ".upload") {
				t.Fatalf("%s was left in incoming/", e.Name())
			}
		}
	})

	t.Run("staged files survive a restart", func(t *testing.T) {
		sendFile("later.txt", "text/plain", []byte("later"), "")
		if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
			return m.Sender == bot && strings.Contains(m.FinalBody, `Got **later\.txt**`)
		}); err != nil {
			t.Fatal(err)
		}
		if err := w.stack.StopBot(); err != nil {
			t.Fatal(err)
		}
		if err := w.stack.StartBot(w.ctx); err != nil {
			t.Fatal(err)
		}
		w.ask("after the restart", func(m harness.Message) bool { return strings.HasPrefix(m.FinalBody, "echo: after the restart") })
		if atts := received("after the restart"); len(atts) != 1 || !strings.HasSuffix(atts[0], "later.txt") {
			t.Fatalf("after the restart the turn carried %q", atts)
		}
	})
}

func countFiles(w *world) int {
	n := 0
	for _, m := range w.alice.Messages(w.chat) {
		if m.Sender == w.stack.BotID && (m.MsgType == event.MsgFile || m.MsgType == event.MsgImage) {
			n++
		}
	}
	return n
}
