package matrix

import (
	"regexp"

	"github.com/microcosm-cc/bluemonday"
)

// htmlPolicy is the allow-list formatted_body is filtered through: the
// tags and attributes the Matrix spec lets clients show (client-server API,
// "m.room.message msgtypes", HTML), links only to web, mail and magnet
// addresses, and images only from the homeserver's media repository
// (mxc://). Agent Markdown renders links as written, so a
// "[x](javascript:...)" from an agent would otherwise reach clients.
var htmlPolicy = newHTMLPolicy()

func newHTMLPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("font", "del", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "p", "a", "ul", "ol",
		"sup", "sub", "li", "b", "i", "u", "strong", "em", "s", "code", "hr", "br", "div", "table", "thead",
		"tbody", "tr", "th", "td", "caption", "pre", "span", "img", "details", "summary")
	p.AllowAttrs("data-mx-bg-color", "data-mx-color", "color").OnElements("font")
	p.AllowAttrs("data-mx-bg-color", "data-mx-color", "data-mx-spoiler").OnElements("span")
	p.AllowAttrs("name", "target").OnElements("a")
	p.AllowAttrs("href").Matching(webURL).OnElements("a")
	p.AllowAttrs("width", "height", "alt", "title").OnElements("img")
	p.AllowAttrs("src").Matching(mxcURL).OnElements("img")
	p.AllowAttrs("start").Matching(bluemonday.Integer).OnElements("ol")
	p.AllowAttrs("class").Matching(codeLanguage).OnElements("code")
	p.AllowURLSchemes("https", "http", "ftp", "mailto", "magnet", "mxc")
	p.RequireParseableURLs(true)
	return p
}

var (
	webURL       = regexp.MustCompile(`^(?i)(https?|ftp|mailto|magnet):`)
	mxcURL       = regexp.MustCompile(`^mxc://[^\s"'<>]+$`)
	codeLanguage = regexp.MustCompile(`^language-[\w+#-]+$`)
)

// sanitizeHTML filters html through htmlPolicy.
func sanitizeHTML(html string) string { return htmlPolicy.Sanitize(html) }
