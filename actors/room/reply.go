package room

import (
	"strings"
	"unicode/utf8"

	"github.com/surfaces-bot/surfaces/actors"
)

// replyView is the pure state of one streamed agent reply: the text received
// so far, the files the agent sent and where in the text they came, the
// current progress line, and what each Matrix event of the reply last
// showed. It decides what the reply should look like; the room actor
// performs the sends, edits and uploads it asks for. Keeping it free of I/O
// makes the streaming rules (PRODUCT R3.4–R3.6, R4.3) testable as plain
// functions.
type replyView struct {
	// maxBytes is the largest body one Matrix event of the reply may carry.
	maxBytes int
	text     strings.Builder
	progress string
	// files are the files the agent sent, each at the length the text had
	// when it came: the reply shows text before it, the file, text after.
	files []replyFile
	// shown[i] is what event i of the reply last showed; eventIDs[i] its id
	// ("" if sending it failed).
	shown    []string
	eventIDs []string
}

// replyFile is a file of the reply: its workspace-relative path, and the
// length of the text before it.
type replyFile struct {
	at   int
	path string
}

// replyPart is one event of the reply: text, or a file (file set).
type replyPart struct {
	text string
	file string
}

// fileMark starts what a posted file is remembered as (shownAs).
const fileMark = "\x00file\x00"

// shownAs is what a part is remembered as once posted.
func (p replyPart) shownAs() string {
	if p.file != "" {
		return fileMark + p.file
	}
	return p.text
}

// replyOp is one Matrix operation the view asks for.
type replyOp struct {
	// part is the index of the event in the reply.
	part int
	// edit is true for an m.replace of eventID, false for a new message.
	edit    bool
	eventID string
	text    string
	// file is set for a file to upload and post (never edited).
	file string
	// end is the operation's mark: set when it is the last of a turn that
	// did not fail, at once or, while it waits to be sent, when the
	// agent's end shows it is (see actors.ReplyEnd).
	end *actors.ReplyEnd
}

// progressReserve keeps room in the last part for the progress line, so the
// split points of the text never move when the progress line changes.
const progressReserve = 256

func newReplyView(maxBytes int) *replyView {
	if maxBytes < 2*progressReserve {
		maxBytes = 2 * progressReserve
	}
	return &replyView{maxBytes: maxBytes}
}

func (v *replyView) appendChunk(s string) { v.text.WriteString(s) }

// addFile places a file the agent sent after the text so far.
func (v *replyView) addFile(path string) {
	v.files = append(v.files, replyFile{at: v.text.Len(), path: path})
}

// filesLeft reports whether a file of the reply is not posted yet (waiting,
// or uploading).
func (v *replyView) filesLeft() bool {
	posted := 0
	for _, s := range v.shown {
		if strings.HasPrefix(s, fileMark) {
			posted++
		}
	}
	return posted < len(v.files)
}

// hasContent reports whether any text or file arrived.
func (v *replyView) hasContent() bool { return v.text.Len() > 0 || len(v.files) > 0 }

// render returns the desired content of every event of the reply. While
// streaming, the progress line follows the text; the final rendering drops it
// and, for a failed turn, ends with the incomplete marker.
func (v *replyView) render(final bool, incompleteMarker string) []replyPart {
	if !v.hasContent() {
		return nil
	}
	all := v.text.String()
	var parts []replyPart
	prev := 0
	for _, f := range v.files {
		parts = v.appendText(parts, all[prev:f.at])
		parts = append(parts, replyPart{file: f.path})
		prev = f.at
	}
	parts = v.appendText(parts, all[prev:])
	extra := ""
	switch {
	case final && incompleteMarker != "":
		extra = incompleteMarker
	case !final:
		extra = v.progress
	}
	if extra == "" {
		return parts
	}
	if last := len(parts) - 1; last >= 0 && parts[last].file == "" {
		parts[last].text += "\n\n" + extra
	} else if final {
		parts = append(parts, replyPart{text: extra})
	}
	return parts
}

// appendText adds the parts of one stretch of text (between files).
func (v *replyView) appendText(parts []replyPart, s string) []replyPart {
	if strings.TrimSpace(s) == "" {
		return parts
	}
	for _, p := range splitText(s, v.maxBytes-progressReserve) {
		parts = append(parts, replyPart{text: p})
	}
	return parts
}

// next returns the first operation needed to make the reply show want, or
// false when it already does.
func (v *replyView) next(want []replyPart) (replyOp, bool) { return v.nextFrom(want, 0) }

// last reports whether op, the operation next returned for want, is the
// last one: once it is done the reply shows want.
func (v *replyView) last(want []replyPart, op replyOp) bool {
	_, more := v.nextFrom(want, op.part+1)
	return !more
}

// settledBy reports whether the reply shows want once op, in flight, is
// done: then op is its last operation.
func (v *replyView) settledBy(want []replyPart, op replyOp) bool {
	if len(want) != max(len(v.shown), op.part+1) {
		return false
	}
	for i, p := range want {
		shown := ""
		if i == op.part {
			shown = replyPart{text: op.text, file: op.file}.shownAs()
		} else {
			shown = v.shown[i]
		}
		if p.shownAs() != shown {
			return false
		}
	}
	return true
}

// nextFrom is next, looking at the events from index from on.
func (v *replyView) nextFrom(want []replyPart, from int) (replyOp, bool) {
	for i := from; i < len(want); i++ {
		p := want[i]
		if i >= len(v.shown) {
			return replyOp{part: i, text: p.text, file: p.file}, true
		}
		if p.file == "" && v.shown[i] != p.text && v.eventIDs[i] != "" {
			return replyOp{part: i, edit: true, eventID: v.eventIDs[i], text: p.text}, true
		}
	}
	return replyOp{}, false
}

// done records the outcome of op. A failed send is remembered as shown with
// no event id, so it is not retried in a loop; a failed edit is remembered
// too, and the next change tries again.
func (v *replyView) done(op replyOp, eventID string) {
	shown := replyPart{text: op.text, file: op.file}.shownAs()
	if op.part == len(v.shown) {
		v.shown = append(v.shown, shown)
		v.eventIDs = append(v.eventIDs, eventID)
		return
	}
	if op.part < len(v.shown) {
		v.shown[op.part] = shown
	}
}

// splitText cuts s into pieces of at most max bytes, preferring to cut after a
// paragraph break, then a line break, then a space, and never inside a UTF-8
// sequence. The cut points depend only on the first bytes of s, so they stay
// put as s grows during streaming.
func splitText(s string, max int) []string {
	var parts []string
	for len(s) > max {
		cut := bestCut(s, max)
		parts = append(parts, strings.TrimRight(s[:cut], " \n"))
		s = strings.TrimLeft(s[cut:], " \n")
	}
	return append(parts, s)
}

// bestCut returns where to cut s (longer than max) so the first piece has at
// most max bytes.
func bestCut(s string, max int) int {
	window := s[:max]
	for _, sep := range []string{"\n\n", "\n", " "} {
		if i := strings.LastIndex(window, sep); i > max/2 {
			return i + len(sep)
		}
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if cut == 0 {
		return max
	}
	return cut
}

// progressLine turns a tool or custom event into one short line: never raw
// JSON, never more than one line.
func progressLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const max = 80
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max]) + "…"
	}
	return s
}
