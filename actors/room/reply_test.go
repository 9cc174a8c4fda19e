package room

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitText(t *testing.T) {
	long := strings.Repeat("word ", 300) // 1500 bytes
	tests := []struct {
		name string
		in   string
		max  int
	}{
		{"short", "hello", 100},
		{"exact", strings.Repeat("a", 100), 100},
		{"words", long, 512},
		{"paragraphs", strings.Repeat("para graph\n\n", 100), 300},
		{"no spaces", strings.Repeat("x", 1000), 300},
		{"multibyte", strings.Repeat("привет", 200), 301},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parts := splitText(tc.in, tc.max)
			var joined []string
			for _, p := range parts {
				if len(p) > tc.max {
					t.Fatalf("part of %d bytes > %d", len(p), tc.max)
				}
				if !utf8.ValidString(p) {
					t.Fatalf("part is not valid UTF-8: %q", p)
				}
				joined = append(joined, strings.Fields(p)...)
			}
			if strings.Join(joined, "") != strings.Join(strings.Fields(tc.in), "") {
				t.Fatal("splitting lost or changed text")
			}
		})
	}
}

func TestSplitIsStableWhileStreaming(t *testing.T) {
	text := strings.Repeat("lorem ipsum dolor ", 100)
	first := splitText(text, 600)
	grown := splitText(text+strings.Repeat("sit amet ", 100), 600)
	for i := 0; i < len(first)-1; i++ {
		if first[i] != grown[i] {
			t.Fatalf("part %d moved when the text grew", i)
		}
	}
}

func TestReplyViewStreaming(t *testing.T) {
	v := newReplyView(4096)
	if _, ok := v.next(v.render(false, "")); ok {
		t.Fatal("an empty reply asked for an operation")
	}
	v.appendChunk("Hel")
	v.progress = "⚙ search…"
	op, ok := v.next(v.render(false, ""))
	if !ok || op.edit || op.text != "Hel\n\n⚙ search…" {
		t.Fatalf("first op = %+v, %v; want a send with the progress line", op, ok)
	}
	v.done(op, "$e1")
	if _, ok := v.next(v.render(false, "")); ok {
		t.Fatal("an unchanged reply asked for an operation")
	}
	v.appendChunk("lo")
	op, _ = v.next(v.render(true, ""))
	if !op.edit || op.eventID != "$e1" || op.text != "Hello" {
		t.Fatalf("final op = %+v; want an edit of $e1 to the text without progress", op)
	}
	v.done(op, "")
	if _, ok := v.next(v.render(true, "")); ok {
		t.Fatal("a final reply asked for more")
	}
	op, _ = v.next(v.render(true, "(incomplete)"))
	if op.text != "Hello\n\n(incomplete)" {
		t.Fatalf("incomplete rendering = %q", op.text)
	}
}

func TestReplyViewSplitsLongReplies(t *testing.T) {
	v := newReplyView(1024)
	v.appendChunk(strings.Repeat("chunk ", 400)) // 2400 bytes
	want := v.render(true, "")
	if len(want) < 3 {
		t.Fatalf("got %d parts, want at least 3", len(want))
	}
	for i := range want {
		op, ok := v.next(want)
		if !ok || op.part != i || op.edit {
			t.Fatalf("op %d = %+v, %v", i, op, ok)
		}
		v.done(op, "$e")
	}
	if _, ok := v.next(want); ok {
		t.Fatal("all parts sent but more asked")
	}
}

func TestProgressLine(t *testing.T) {
	if got := progressLine("a\nb\t c"); got != "a b c" {
		t.Fatalf("got %q", got)
	}
	if got := progressLine(strings.Repeat("é", 200)); utf8.RuneCountInString(got) != 81 {
		t.Fatalf("not truncated: %d runes", utf8.RuneCountInString(got))
	}
}
