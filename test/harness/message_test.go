package harness

import (
	"encoding/json"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// parsedEvent builds an event the way the sync loop records it: content
// parsed, message class set.
func parsedEvent(t *testing.T, evtID id.EventID, sender id.UserID, ts int64, evtType event.Type, content string) *event.Event {
	t.Helper()
	evt := &event.Event{ID: evtID, Sender: sender, Timestamp: ts, Type: evtType}
	if err := json.Unmarshal([]byte(content), &evt.Content); err != nil {
		t.Fatalf("bad test content %s: %v", content, err)
	}
	if err := evt.Content.ParseRaw(evtType); err != nil {
		t.Fatalf("parse %s: %v", content, err)
	}
	return evt
}

func edit(target id.EventID, body string) string {
	return `{"msgtype":"m.text","body":"* ` + body + `","m.new_content":{"msgtype":"m.text","body":"` + body +
		`"},"m.relates_to":{"rel_type":"m.replace","event_id":"` + string(target) + `"}}`
}

func TestBuildMessagesAppliesEdits(t *testing.T) {
	const bot, mallory id.UserID = "@bot:localhost", "@mallory:localhost"
	msg := event.EventMessage
	events := []*event.Event{
		parsedEvent(t, "$a", bot, 100, msg, `{"msgtype":"m.notice","body":"…"}`),
		parsedEvent(t, "$b", mallory, 101, msg, `{"msgtype":"m.text","body":"other"}`),
		parsedEvent(t, "$e1", bot, 102, msg, edit("$a", "Hel")),
		parsedEvent(t, "$e2", mallory, 103, msg, edit("$a", "hijacked")), // other sender: ignored
		parsedEvent(t, "$e3", bot, 104, msg, edit("$a", "Hello")),
		// Same millisecond as $e3 but arrived later: Element shows this one.
		parsedEvent(t, "$e0", bot, 104, msg, edit("$a", "Hello!")),
		parsedEvent(t, "$e4", bot, 103, msg, edit("$a", "late clock")), // older timestamp: not final
		parsedEvent(t, "$e5", bot, 105, msg, edit("$e1", "edit of an edit")),
		parsedEvent(t, "$r", mallory, 106, event.EventRedaction, `{"redacts":"$b"}`),
	}
	msgs := buildMessages("!room:localhost", events)
	if len(msgs) != 2 {
		t.Fatalf("got %d messages; want 2: %+v", len(msgs), msgs)
	}
	a := msgs[0]
	if a.EventID != "$a" || a.Body != "…" || a.FinalBody != "Hello!" {
		t.Errorf("message a = %s %q → %q; want $a %q → %q", a.EventID, a.Body, a.FinalBody, "…", "Hello!")
	}
	if a.Edits != 4 || len(a.History) != 4 || a.History[0].Body != "Hel" || a.History[3].Body != "late clock" {
		t.Errorf("message a edits = %d, history %+v; want 4 bot edits in arrival order", a.Edits, a.History)
	}
	// The final content's type comes from m.new_content, not the original.
	if a.MsgType != event.MsgText {
		t.Errorf("message a msgtype = %s; want m.text from the edit", a.MsgType)
	}
	if b := msgs[1]; b.EventID != "$b" || !b.Redacted || b.Edits != 0 {
		t.Errorf("message b = %s redacted %v edits %d; want $b redacted, no edits", b.EventID, b.Redacted, b.Edits)
	}
}

func TestBuildMessagesIgnoresOtherEvents(t *testing.T) {
	events := []*event.Event{
		parsedEvent(t, "$m", "@a:localhost", 1, event.StateMember, `{"membership":"join"}`),
		parsedEvent(t, "$x", "@a:localhost", 2, event.EventMessage, edit("$missing", "orphan edit")),
	}
	if msgs := buildMessages("!room:localhost", events); len(msgs) != 0 {
		t.Errorf("got %+v; want no messages", msgs)
	}
}
