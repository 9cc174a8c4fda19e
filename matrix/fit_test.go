package matrix

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// content builds a message content with bodies of exact sizes; an edit when
// newBody is not empty.
func content(body, html, newBody, newHTML string) *event.MessageEventContent {
	c := &event.MessageEventContent{MsgType: event.MsgText, Body: body}
	if html != "" {
		c.Format, c.FormattedBody = event.FormatHTML, html
	}
	if newBody != "" {
		c.NewContent = &event.MessageEventContent{MsgType: event.MsgText, Body: newBody}
		if newHTML != "" {
			c.NewContent.Format, c.NewContent.FormattedBody = event.FormatHTML, newHTML
		}
		c.RelatesTo = (&event.RelatesTo{}).SetReplace(id.EventID("$orig"))
	}
	return c
}

// exactSize returns a plain content whose JSON is exactly n bytes.
func exactSize(t *testing.T, n int) *event.MessageEventContent {
	t.Helper()
	raw, err := json.Marshal(content("", "", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	c := content(strings.Repeat("a", n-len(raw)), "", "", "")
	if raw, _ := json.Marshal(c); len(raw) != n {
		t.Fatalf("built %d bytes, want %d", len(raw), n)
	}
	return c
}

func TestFit(t *testing.T) {
	k := func(n int, r string) string { return strings.Repeat(r, n*1024) }
	tests := []struct {
		name   string
		in     func(t *testing.T) *event.MessageEventContent
		want   *event.MessageEventContent // nil: in unchanged
		tooBig bool
	}{
		{
			name: "small message unchanged",
			in:   func(*testing.T) *event.MessageEventContent { return content("hi", "<b>hi</b>", "", "") },
		},
		{
			name: "exactly at the limit unchanged",
			in:   func(t *testing.T) *event.MessageEventContent { return exactSize(t, maxEventBytes) },
		},
		{
			name:   "one byte over the limit without HTML",
			in:     func(t *testing.T) *event.MessageEventContent { return exactSize(t, maxEventBytes+1) },
			tooBig: true,
		},
		{
			name: "HTML dropped first",
			in:   func(*testing.T) *event.MessageEventContent { return content(k(30, "a"), k(40, "b"), "", "") },
			want: content(k(30, "a"), "", "", ""),
		},
		{
			name: "edit: only the fallback's HTML dropped when that suffices",
			in: func(*testing.T) *event.MessageEventContent {
				return content(k(20, "a"), k(25, "b"), k(10, "c"), k(10, "d"))
			},
			want: content(k(20, "a"), "", k(10, "c"), k(10, "d")),
		},
		{
			name: "edit: then the new content's HTML",
			in: func(*testing.T) *event.MessageEventContent {
				return content(k(22, "a"), k(22, "b"), k(22, "c"), k(22, "d"))
			},
			want: content(k(22, "a"), "", k(22, "c"), ""),
		},
		{
			name: "edit: then the fallback body, cut to 64 bytes",
			in: func(*testing.T) *event.MessageEventContent {
				return content(k(31, "a"), "<b>x</b>", k(31, "c"), "<b>y</b>")
			},
			want: content(strings.Repeat("a", 64)+"…", "", k(31, "c"), ""),
		},
		{
			name: "edit: fallback cut inside a character stays valid UTF-8",
			in: func(*testing.T) *event.MessageEventContent {
				return content("a"+strings.Repeat("é", 20000), "", k(31, "c"), "")
			},
			want: content("a"+strings.Repeat("é", 31)+"…", "", k(31, "c"), ""),
		},
		{
			name:   "plain body over the limit",
			in:     func(*testing.T) *event.MessageEventContent { return content(k(70, "a"), k(1, "b"), "", "") },
			tooBig: true,
		},
		{
			name:   "edit whose new body is over the limit",
			in:     func(*testing.T) *event.MessageEventContent { return content("* x", "", k(70, "c"), "") },
			tooBig: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in(t)
			before, _ := json.Marshal(got)
			err := fit(got)
			if tc.tooBig {
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("error %v, want one wrapping ErrTooLarge", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("fit: %v", err)
			}
			after, _ := json.Marshal(got)
			if len(after) > maxEventBytes {
				t.Fatalf("fit left %d bytes, over %d", len(after), maxEventBytes)
			}
			if !utf8.ValidString(got.Body) {
				t.Fatalf("fit produced invalid UTF-8: %q", got.Body)
			}
			want := before
			if tc.want != nil {
				want, _ = json.Marshal(tc.want)
			}
			if string(after) != string(want) {
				t.Fatalf("fit changed the content wrongly:\n got %.300s\nwant %.300s", after, want)
			}
		})
	}
}
