package matrix

import (
	"regexp"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
)

// forbidden finds what must never reach a client in formatted_body: a
// script-capable scheme in a link or source, an image not from mxc://, an
// event handler attribute, or a tag outside the Matrix allow-list.
var forbidden = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(href|src)\s*=\s*"?\s*(javascript|vbscript|data|file):`),
	regexp.MustCompile(`(?i)<img[^>]*\ssrc\s*=\s*"(?:[^m"]|m[^x"]|mx[^c"]|mxc[^:"])`),
	regexp.MustCompile(`(?i)<[a-z][^>]*\son[a-z]+\s*=`),
	regexp.MustCompile(`(?i)<(script|style|iframe|object|embed|form|input|svg|math|link|meta)\b`),
}

func checkSafe(t *testing.T, in, html string) {
	t.Helper()
	for _, re := range forbidden {
		if loc := re.FindStringIndex(html); loc != nil {
			t.Fatalf("render(%q) produced %q, which contains %q", in, html, html[loc[0]:loc[1]])
		}
	}
}

func TestRenderIsSanitised(t *testing.T) {
	tests := []struct {
		in, mustNot, must string
	}{
		{"[x](javascript:alert(1))", "javascript", "x"},
		{"[x](JaVaScRiPt:alert(1))", "avascript", "x"},
		{"[d](data:text/html;base64,PHNjcmlwdD4=)", "data:", "d"},
		{"![i](https://example.org/a.png)", "example.org", "<img"},
		{"![m](mxc://hs.test/abc)", "", `<img src="mxc://hs.test/abc"`},
		{"[ok](https://example.org/page)", "", `<a href="https://example.org/page"`},
		{"<img src=x onerror=alert(1)>", "<img", "&lt;img"},
		{"<script>alert(1)</script>", "<script", "&lt;script&gt;"},
		{"```go\nfmt.Println(1)\n```", "", `<code class="language-go">`},
		{"**bold** and _it_", "", "<strong>bold</strong>"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			html := render(event.MsgText, tc.in).FormattedBody
			checkSafe(t, tc.in, html)
			if tc.mustNot != "" && strings.Contains(html, tc.mustNot) {
				t.Fatalf("render(%q) = %q, contains %q", tc.in, html, tc.mustNot)
			}
			if !strings.Contains(html, tc.must) {
				t.Fatalf("render(%q) = %q, lacks %q", tc.in, html, tc.must)
			}
		})
	}
}

// FuzzRender: whatever an agent writes, formatted_body contains no
// forbidden scheme, tag or attribute. The seeds run in the normal suite.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"[x](javascript:alert(1))", "[x](  javascript:alert(1))", "<a href=\"javascript:x\">y</a>",
		"![i](https://example.org/a.png)", "![i](data:image/png;base64,AAAA)", "[x](vbscript:msgbox)",
		"<img src=x onerror=alert(1)>", "<svg onload=alert(1)>", "[x](java\tscript:alert(1))",
		"[x](&#106;avascript:alert(1))", "<details open ontoggle=alert(1)>", "`<script>`",
		"[![img](mxc://a/b)](javascript:alert(1))", "<<script>script>alert(1)<</script>/script>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkSafe(t, in, render(event.MsgText, in).FormattedBody)
	})
}
