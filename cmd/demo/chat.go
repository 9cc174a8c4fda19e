package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

const (
	// tick is how often the chat looks at what the user's client recorded.
	tick = 100 * time.Millisecond
	// quiet is how long a bot message must stay unchanged, with the bot not
	// typing in its room, to count as final; the demo bot edits a streamed
	// reply every 400 ms.
	quiet = 800 * time.Millisecond
	// answerWait bounds the wait for the bot's first answer to a line.
	answerWait = 2 * time.Minute
)

// chat reads lines from in and sends each in Chat 1 as the demo user, and
// prints the bot's messages in every room the user is in as they land and
// grow. Lines from a terminal are sent as they are typed; lines from a pipe
// one at a time, once the bot has answered the previous one and is quiet.
// It returns nil at the end of in, once the bot is quiet, or when ctx ends.
func chat(ctx context.Context, s *session, in io.Reader, inTTY bool) error {
	f := &follower{s: s, msgs: map[id.EventID]*tracked{}, echo: !inTTY}
	f.scan(time.Now(), true) // what onboarding showed is not news
	s.p.say("demo", "you are %s in %s: type a message, a command (!new, !chats, !help…) or /file PATH; end with Ctrl-D or Ctrl-C", s.user.UserID(), s.chatName)

	lines := make(chan string)
	done := make(chan struct{})
	defer close(done)
	go readLines(in, lines, done)

	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	eof := false
	for {
		now := time.Now()
		f.scan(now, false)
		calm := f.calm(now)
		if eof && calm {
			return nil
		}
		var next <-chan string
		if !eof && (inTTY || calm) {
			next = lines
		}
		select {
		case <-ctx.Done():
			s.p.clearLive()
			return nil
		case line, ok := <-next:
			if !ok {
				eof = true
				continue
			}
			if err := f.send(ctx, line); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		case <-ticker.C:
		}
	}
}

// readLines sends the lines of in (without line ends) until its end, then
// closes lines; done makes it give up a line nobody will take.
func readLines(in io.Reader, lines chan<- string, done <-chan struct{}) {
	defer close(lines)
	r := bufio.NewReader(in)
	for {
		line, err := r.ReadString('\n')
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			select {
			case lines <- line:
			case <-done:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// follower tracks the bot's messages in the user's rooms and prints each
// when it is final.
type follower struct {
	s    *session
	echo bool // print what the user sent (the input is not on screen)

	msgs    map[id.EventID]*tracked
	order   []id.EventID
	typing  map[id.RoomID]bool // the bot is typing there
	pending []sentLine         // lines the bot has not answered yet

	calmSince time.Time // zero while not calm
}

// tracked is one message of the bot as last seen and as last printed.
type tracked struct {
	room    id.RoomID
	body    string
	notice  bool
	edits   int
	changed time.Time
	printed string
	shown   bool // printed at least once
}

type sentLine struct {
	room id.RoomID
	id   id.EventID
	at   time.Time
}

// rooms are the rooms to follow: the direct chat, Chat 1 and every other
// chat the user joined, Spaces left out.
func (f *follower) rooms() []id.RoomID {
	out := []id.RoomID{f.s.dm, f.s.chat}
	for _, inv := range f.s.user.Invites() {
		if inv.Joined && inv.RoomType() != event.RoomTypeSpace && !slices.Contains(out, inv.RoomID) {
			out = append(out, inv.RoomID)
		}
	}
	return out
}

// scan reads the rooms, prints the messages that became final, updates the
// live line and drops the lines the bot answered. With baseline it only
// records what is there as already shown.
func (f *follower) scan(now time.Time, baseline bool) {
	f.typing = map[id.RoomID]bool{}
	for _, room := range f.rooms() {
		if t := f.s.user.Typing(room); len(t) > 0 && slices.Contains(t[len(t)-1], f.s.bot) {
			f.typing[room] = true
		}
		for _, m := range f.s.user.Messages(room) {
			if m.Sender != f.s.bot {
				continue
			}
			t, ok := f.msgs[m.EventID]
			if !ok {
				t = &tracked{room: room, changed: now}
				f.msgs[m.EventID] = t
				f.order = append(f.order, m.EventID)
			}
			if body := render(m); body != t.body {
				t.body, t.changed = body, now
			}
			t.notice, t.edits = m.MsgType == event.MsgNotice, m.Edits
			if baseline {
				t.printed, t.shown = t.body, true
			}
		}
	}
	var live *tracked
	for _, eventID := range f.order {
		t := f.msgs[eventID]
		if t.body == t.printed {
			continue
		}
		if now.Sub(t.changed) >= quiet && !f.typing[t.room] {
			f.s.p.say("bot", "(%s) %s", f.label(t), t.body)
			t.printed, t.shown = t.body, true
			continue
		}
		if live == nil || !t.changed.Before(live.changed) {
			live = t
		}
	}
	if live != nil {
		f.s.p.live("bot", "("+f.roomName(live.room)+") ", live.body)
	}
	f.pending = slices.DeleteFunc(f.pending, func(l sentLine) bool {
		if f.answered(l) {
			return true
		}
		if now.Sub(l.at) > answerWait {
			f.s.p.say("demo", "no answer from the bot after %s, going on", answerWait)
			return true
		}
		return false
	})
}

// calm reports whether the bot answered every line, printed everything and
// is not typing, and has been so for the quiet period (a notice can follow
// a reply).
func (f *follower) calm(now time.Time) bool {
	busy := len(f.pending) > 0
	for _, t := range f.msgs {
		busy = busy || t.body != t.printed
	}
	for _, typing := range f.typing {
		busy = busy || typing
	}
	if busy {
		f.calmSince = time.Time{}
		return false
	}
	if f.calmSince.IsZero() {
		f.calmSince = now
	}
	return now.Sub(f.calmSince) >= quiet
}

// answered reports whether the bot posted a new message in the line's room
// after it.
func (f *follower) answered(l sentLine) bool {
	after := false
	for _, evt := range f.s.user.Events(l.room) {
		if evt.ID == l.id {
			after = true
			continue
		}
		if after && evt.Sender == f.s.bot && evt.Type == event.EventMessage &&
			evt.Content.AsMessage().RelatesTo.GetReplaceID() == "" {
			return true
		}
	}
	return false
}

func (f *follower) label(t *tracked) string {
	label := f.roomName(t.room)
	switch {
	case t.notice:
		label += ", notice"
	case t.shown:
		label += ", edited"
	case t.edits > 0:
		label += fmt.Sprintf(", streamed in %d edit%s", t.edits, plural(t.edits))
	}
	return label
}

// roomName is the room's current name, as the user's client knows it.
func (f *follower) roomName(room id.RoomID) string {
	if room == f.s.dm {
		return "direct chat"
	}
	name := ""
	for _, evt := range f.s.user.Events(room) {
		if evt.Type == event.StateRoomName {
			name = evt.Content.AsRoomName().Name
		}
	}
	if name != "" {
		return name
	}
	for _, inv := range f.s.user.Invites() {
		if inv.RoomID == room {
			return inv.Name()
		}
	}
	return room.String()
}

// send sends one line in Chat 1: "/file PATH" uploads the file, "//..." is
// sent with one slash less, anything else as typed.
func (f *follower) send(ctx context.Context, line string) error {
	s := f.s
	w, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var (
		sent  id.EventID
		err   error
		shown = line
	)
	switch {
	case line == "/file" || strings.HasPrefix(line, "/file "):
		path := strings.TrimSpace(strings.TrimPrefix(line, "/file"))
		if path == "" {
			s.p.say("demo", "/file needs a path: /file PATH")
			return nil
		}
		data, rerr := os.ReadFile(path)
		if rerr != nil {
			s.p.say("demo", "cannot send the file: %v", rerr)
			return nil
		}
		name := filepath.Base(path)
		sent, err = s.user.SendFile(w, s.chat, name, mimeType(name, data), data, "")
		shown = fmt.Sprintf("[file %s, %d bytes]", name, len(data))
	case strings.HasPrefix(line, "//"):
		line = line[1:]
		shown = line
		fallthrough
	default:
		sent, err = s.user.SendText(w, s.chat, line)
	}
	if err != nil {
		return err
	}
	if f.echo || strings.HasPrefix(shown, "[file ") {
		s.p.say("you", "(%s) %s", f.roomName(s.chat), shown)
	}
	f.pending = append(f.pending, sentLine{room: s.chat, id: sent, at: time.Now()})
	f.calmSince = time.Time{}
	return nil
}

func mimeType(name string, data []byte) string {
	if t := mime.TypeByExtension(filepath.Ext(name)); t != "" {
		return t
	}
	return http.DetectContentType(data)
}

// render is what a person sees of a message: its text, or what file it is.
func render(m harness.Message) string {
	if m.Redacted {
		return "(deleted)"
	}
	c := m.Content
	switch m.MsgType {
	case event.MsgFile, event.MsgImage, event.MsgVideo, event.MsgAudio:
		name := c.FileName
		if name == "" {
			name = c.Body
		}
		out := fmt.Sprintf("[%s %s", strings.TrimPrefix(string(m.MsgType), "m."), name)
		if c.Info != nil && c.Info.Size > 0 {
			out += fmt.Sprintf(", %d bytes", c.Info.Size)
		}
		out += "] " + string(c.URL)
		if c.FileName != "" && c.Body != c.FileName {
			out += "\n" + c.Body
		}
		return out
	case event.MsgEmote:
		return "* " + m.FinalBody
	default:
		return m.FinalBody
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
