package actors_test

import (
	"bytes"
	"testing"
	"testing/synctest"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// A user at the chat quota gets a notice naming !archive for !new, and no
// room is made; archiving one makes room (issue 19, point 7).
func TestChatQuota(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := newTestTree(t, actors.Options{MaxChats: 2})
		tt.Probe.Subscribe(func(e any) bool { _, ok := e.(*actors.QuotaRefused); return ok })
		tt.addRoom(alice, "!r1", "101")
		tt.addRoom(alice, "!r2", "102")
		m := tt.mark()
		tt.say(alice, "!r1", "!new")
		notice := tt.waitCall(m, "SendNotice", "!r1", "!archive")
		synctest.Wait()
		if calls := tt.Matrix.CallsSince(m, "CreateChatRoom"); len(calls) != 0 {
			t.Fatalf("a !new past the quota made a room (%q)", notice.Text)
		}
		actortest.FishForMsg(tt.Probe, func(e *actors.QuotaRefused) bool { return e.Quota == actors.QuotaChats })

		tt.say(alice, "!r2", "!archive")
		tt.waitCall(m, "SendNotice", "!r2", "archived")
		synctest.Wait() // the archived record reaches the user actor
		m = tt.mark()
		tt.say(alice, "!r1", "!new")
		tt.waitCall(m, "CreateChatRoom", "", "")
	})
}

// A user over the staged-bytes quota, over all their chats, gets a notice
// and nothing of the file stays on disk, whether its size was declared or
// not; handing the files to the agent frees the quota (issue 19, point 7).
func TestStagedBytesQuota(t *testing.T) {
	for _, declared := range []bool{true, false} {
		t.Run(map[bool]string{true: "size declared", false: "size not declared"}[declared], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt := newTestTree(t, actors.Options{MaxStagedBytes: 100})
				tt.Probe.Subscribe(func(e any) bool { _, ok := e.(*actors.QuotaRefused); return ok })
				tt.addRoom(alice, "!r1", "101")
				tt.addRoom(alice, "!r2", "102")
				m := tt.mark()
				tt.sendFile("!r1", "first.bin", bytes.Repeat([]byte("a"), 60), "")
				tt.waitCall(m, "SendNotice", "!r1", "Got")
				synctest.Wait()
				before := tt.incoming()

				big := bytes.Repeat([]byte("b"), 60)
				tt.Matrix.AddMedia("mxc://example.test/second", big)
				media := &actors.Media{URL: "mxc://example.test/second", FileName: "second.bin", Size: int64(len(big))}
				if !declared {
					media.Size = 0
				}
				m = tt.mark()
				tt.send(&actors.MessageReceived{RoomID: "!r2", EventID: "$second", Sender: alice, MsgType: "m.file", Media: media})
				tt.waitCall(m, "SendNotice", "!r2", "over your limit")
				synctest.Wait()
				if after := tt.incoming(); len(after) != len(before) {
					t.Fatalf("incoming/ holds %v after a file over the quota, want only %v", after, before)
				}
				actortest.FishForMsg(tt.Probe, func(e *actors.QuotaRefused) bool { return e.Quota == actors.QuotaStagedBytes })

				// The first file goes to the agent with a message: the quota is free again.
				tt.say(alice, "!r1", "take it")
				turn := tt.turn(tt.conn())
				turn.Emit(actortest.End(0))
				tt.turnEnded("!r1")
				synctest.Wait() // the record without the files reaches the user actor
				m = tt.mark()
				tt.sendFile("!r2", "third.bin", bytes.Repeat([]byte("c"), 60), "")
				tt.waitCall(m, "SendNotice", "!r2", "Got")
			})
		})
	}
}
