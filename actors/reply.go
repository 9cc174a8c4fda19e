package actors

import (
	"strings"
	"unicode/utf8"
)

// replyView is the pure state of one streamed agent reply: the text received
// so far, the current progress line, and what each Matrix event of the reply
// last showed. It decides what the reply should look like; the room actor
// performs the sends and edits it asks for. Keeping it free of I/O makes the
// streaming rules (PRODUCT R3.4–R3.6) testable as plain functions.
type replyView struct {
	// maxBytes is the largest body one Matrix event of the reply may carry.
	maxBytes int
	text     strings.Builder
	progress string
	// shown[i] is what event i of the reply last showed; eventIDs[i] its id
	// ("" if sending it failed).
	shown    []string
	eventIDs []string
}

// replyOp is one Matrix operation the view asks for.
type replyOp struct {
	// part is the index of the event in the reply.
	part int
	// edit is true for an m.replace of eventID, false for a new message.
	edit    bool
	eventID string
	text    string
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

func (v *replyView) appendText(s string) { v.text.WriteString(s) }

// hasText reports whether any text arrived.
func (v *replyView) hasText() bool { return v.text.Len() > 0 }

// render returns the desired content of every event of the reply. While
// streaming, the progress line follows the text; the final rendering drops it
// and, for a failed turn, ends with the incomplete marker.
func (v *replyView) render(final bool, incompleteMarker string) []string {
	if v.text.Len() == 0 {
		return nil
	}
	parts := splitText(v.text.String(), v.maxBytes-progressReserve)
	last := len(parts) - 1
	switch {
	case final && incompleteMarker != "":
		parts[last] += "\n\n" + incompleteMarker
	case !final && v.progress != "":
		parts[last] += "\n\n" + v.progress
	}
	return parts
}

// next returns the first operation needed to make the reply show want, or
// false when it already does.
func (v *replyView) next(want []string) (replyOp, bool) {
	for i, text := range want {
		if i >= len(v.shown) {
			return replyOp{part: i, text: text}, true
		}
		if v.shown[i] != text && v.eventIDs[i] != "" {
			return replyOp{part: i, edit: true, eventID: v.eventIDs[i], text: text}, true
		}
	}
	return replyOp{}, false
}

// done records the outcome of op. A failed send is remembered as shown with
// no event id, so it is not retried in a loop; a failed edit is remembered
// too, and the next change tries again.
func (v *replyView) done(op replyOp, eventID string) {
	if op.part == len(v.shown) {
		v.shown = append(v.shown, op.text)
		v.eventIDs = append(v.eventIDs, eventID)
		return
	}
	if op.part < len(v.shown) {
		v.shown[op.part] = op.text
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
