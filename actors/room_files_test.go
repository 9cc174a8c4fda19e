package actors_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/actors/catalog"
)

// sendFile makes alice send data as a file named name in roomID (with an
// optional caption) and returns the event id.
func (tt *testTree) sendFile(roomID, name string, data []byte, caption string) string {
	tt.seq++
	id := "$file" + name
	mxc := "mxc://example.test/" + name
	tt.Matrix.AddMedia(mxc, data)
	tt.send(&actors.MessageReceived{RoomID: roomID, EventID: id, Sender: alice, MsgType: "m.file", Body: caption,
		Media: &actors.Media{URL: mxc, FileName: name, Size: int64(len(data))}})
	return id
}

// incoming lists the files in agent 0's incoming/ directory, temporary
// ones included.
func (tt *testTree) incoming() []string {
	entries, _ := os.ReadDir(filepath.Join(tt.Volume, "0", "incoming"))
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// A file the user sends is written under incoming/, confirmed, and goes to
// the agent with the next message, with identical bytes; a caption starts
// the turn at once (PRODUCT R4.1).
func TestFilesGoWithTheNextMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		data := []byte("random bytes \x00\x01\x02")
		m := tt.mark()
		tt.sendFile("!r", "../../report.pdf", data, "")
		tt.waitCall(m, "SendNotice", "!r", "Got **report\\.pdf**")
		tt.say(alice, "!r", "here")
		conn := tt.conn()
		turn := tt.turn(conn)
		if turn.Msg.Text != "here" || len(turn.Msg.Attachments) != 1 || !strings.HasPrefix(turn.Msg.Attachments[0], "incoming/") ||
			!strings.HasSuffix(turn.Msg.Attachments[0], "-report.pdf") {
			t.Fatalf("turn %q with %v, want the file under incoming/", turn.Msg.Text, turn.Msg.Attachments)
		}
		got, err := os.ReadFile(filepath.Join(tt.Volume, "0", turn.Msg.Attachments[0]))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("the agent's copy is %q (%v), want the bytes sent", got, err)
		}
		turn.Emit(actortest.Text("read it"), actortest.End(0))
		tt.turnEnded("!r")
		synctest.Wait()
		if r, _ := tt.Store.GetRoom(context.Background(), "!r"); len(r.Staged) != 0 {
			t.Fatalf("still staged after the turn: %+v", r.Staged)
		}

		tt.sendFile("!r", "photo.jpg", []byte("jpeg"), "what is this?")
		turn = tt.turn(conn)
		if turn.Msg.Text != "what is this?" || len(turn.Msg.Attachments) != 1 {
			t.Fatalf("the captioned file started %q with %v", turn.Msg.Text, turn.Msg.Attachments)
		}
		turn.Emit(actortest.End(0))
	})
}

// Staged files are part of the room's record: they survive a restart and
// still go out with the next message.
func TestStagedFilesSurviveARestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		m := tt.mark()
		tt.sendFile("!r", "a.txt", []byte("a"), "")
		tt.waitCall(m, "SendNotice", "!r", "Got")
		synctest.Wait()
		tt.restart()
		tt.say(alice, "!r", "now")
		turn := tt.turn(tt.conn())
		if len(turn.Msg.Attachments) != 1 {
			t.Fatalf("after a restart the turn carries %v, want the staged file", turn.Msg.Attachments)
		}
		turn.Emit(actortest.End(0))
	})
}

// !list, !remove <n>, !remove all and !clear unstage files and delete them.
func TestStageCommands(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		for _, name := range []string{"one.txt", "two.txt", "three.txt"} {
			m := tt.mark()
			tt.sendFile("!r", name, []byte(name), "")
			tt.waitCall(m, "SendNotice", "!r", "Got")
		}
		m := tt.mark()
		tt.say(alice, "!r", "!list")
		list := tt.waitCall(m, "SendNotice", "!r", "Waiting to go")
		if !strings.Contains(list.Text, "1. **one\\.txt**") || !strings.Contains(list.Text, "3. **three\\.txt**") {
			t.Fatalf("!list said %q", list.Text)
		}
		m = tt.mark()
		tt.say(alice, "!r", "!remove 2")
		tt.waitCall(m, "SendNotice", "!r", "Removed **two\\.txt**")
		synctest.Wait()
		if files := tt.incoming(); len(files) != 2 || slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, "two.txt") }) {
			t.Fatalf("incoming/ holds %v after !remove 2", files)
		}
		m = tt.mark()
		tt.say(alice, "!r", "!remove 9")
		tt.waitCall(m, "SendNotice", "!r", "Which file?")
		m = tt.mark()
		tt.say(alice, "!r", "!clear")
		tt.waitCall(m, "SendNotice", "!r", "Fresh start")
		synctest.Wait()
		if files := tt.incoming(); len(files) != 0 {
			t.Fatalf("incoming/ holds %v after !clear", files)
		}
		m = tt.mark()
		tt.say(alice, "!r", "!list")
		tt.waitCall(m, "SendNotice", "!r", tt.Catalog.T(catalog.StagedNone))
	})
}

// A file over the limit is refused with a notice and leaves nothing on
// disk, whether its declared size or its real one is over.
func TestOversizedFilesLeaveNothing(t *testing.T) {
	for _, lie := range []bool{false, true} {
		t.Run(map[bool]string{false: "declared", true: "size not declared"}[lie], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newTestTree(t, actors.Options{})
				tt.addRoom(alice, "!r", "101")
				big := bytes.Repeat([]byte("x"), int(tt.Files.MaxSize())+1)
				tt.Matrix.AddMedia("mxc://example.test/big", big)
				media := &actors.Media{URL: "mxc://example.test/big", FileName: "big.bin", Size: int64(len(big))}
				if lie {
					media.Size = 0
				}
				m := tt.mark()
				tt.send(&actors.MessageReceived{RoomID: "!r", EventID: "$big", Sender: alice, MsgType: "m.file", Media: media})
				tt.waitCall(m, "SendNotice", "!r", "too large")
				synctest.Wait()
				if files := tt.incoming(); len(files) != 0 {
					t.Fatalf("incoming/ holds %v after an oversized upload", files)
				}
			})
		})
	}
}

// Files the agent sends are uploaded in their place in the reply (text
// before, the file, text after), a PNG as an image with its size; a path
// that leads outside the workspace through a symlink is refused with a
// notice, nothing is uploaded, and the next turn works (PRODUCT R4.3).
func TestAgentFilesArriveInPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		ws := filepath.Join(tt.Volume, "0")
		os.MkdirAll(filepath.Join(ws, "output"), 0o750)
		var pngData bytes.Buffer
		png.Encode(&pngData, image.NewRGBA(image.Rect(0, 0, 3, 2)))
		os.WriteFile(filepath.Join(ws, "output", "chart.png"), pngData.Bytes(), 0o640)
		secret := filepath.Join(t.TempDir(), "secret.txt")
		os.WriteFile(secret, []byte("secret"), 0o640)
		os.Symlink(secret, filepath.Join(ws, "output", "link.txt"))

		tt.say(alice, "!r", "draw")
		conn := tt.conn()
		turn := tt.turn(conn)
		m := tt.mark()
		turn.Emit(actortest.Text("Here it is:"), actors.AgentEvent{Kind: actors.AgentSendFile, Path: "output/chart.png"},
			actortest.Text("Done."), actortest.End(0))
		tt.turnEnded("!r")
		synctest.Wait()
		var order []string
		for _, c := range tt.Matrix.CallsSince(m, "SendText", "SendFile") {
			order = append(order, c.Method+":"+c.Text)
		}
		if !slices.Equal(order, []string{"SendText:Here it is:", "SendFile:chart.png", "SendText:Done."}) {
			t.Fatalf("the reply went out as %q, want text, file, text in order", order)
		}
		sent := tt.Matrix.SentFiles()
		if len(sent) != 1 || !bytes.Equal(sent[0].Data, pngData.Bytes()) || sent[0].MIME != "image/png" || sent[0].Width != 3 || sent[0].Height != 2 {
			t.Fatalf("sent %+v, want the PNG with its size", sent)
		}

		tt.say(alice, "!r", "leak")
		turn = tt.turn(conn)
		m = tt.mark()
		turn.Emit(actors.AgentEvent{Kind: actors.AgentSendFile, Path: "output/link.txt"}, actortest.Text("sent"), actortest.End(0))
		tt.waitCall(m, "SendNotice", "!r", "outside its workspace")
		tt.turnEnded("!r")
		if n := len(tt.Matrix.SentFiles()); n != 1 {
			t.Fatalf("%d files sent, want the symlink refused", n)
		}
		tt.say(alice, "!r", "still fine?")
		tt.turn(conn).Emit(actortest.Text("yes"), actortest.End(0))
		tt.turnEnded("!r")
	})
}

// A message sent after a captioned file, while the file is still being
// received, waits for the caption's turn: the caption goes first and takes
// the file, the message after it goes second and takes nothing. (The file
// arrives at the room before the message, but finishes after it.)
func TestCaptionKeepsItsPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{})
		tt.addRoom(alice, "!r", "101")
		release := tt.Matrix.Block("Download")
		tt.sendFile("!r", "notes.txt", []byte("notes"), "what is in it?")
		synctest.Wait()
		tt.say(alice, "!r", "then this")
		synctest.Wait()
		release()
		conn := tt.conn()
		first := tt.turn(conn)
		if first.Msg.Text != "what is in it?" || len(first.Msg.Attachments) != 1 {
			t.Fatalf("the first turn was %q with %v, want the caption with the file", first.Msg.Text, first.Msg.Attachments)
		}
		first.Emit(actortest.End(0))
		second := tt.turn(conn)
		if second.Msg.Text != "then this" || len(second.Msg.Attachments) != 0 {
			t.Fatalf("the second turn was %q with %v, want the later message alone", second.Msg.Text, second.Msg.Attachments)
		}
		second.Emit(actortest.End(0))
	})
}
