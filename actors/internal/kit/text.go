package kit

import (
	"strconv"
	"strings"

	"github.com/surfaces-bot/surfaces/actors"
)

// AgentLabel is how an agent is named to people: its label, or its id.
func AgentLabel(a actors.AgentRef) string {
	if a.Label != "" {
		return a.Label
	}
	return a.ID
}

// HumanSize writes a byte count the way people read it.
func HumanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + " GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	default:
		return strconv.FormatInt(n, 10) + " B"
	}
}

// EscapeMarkdown makes user-given text (a file name) show as itself in a
// notice rendered from Markdown.
func EscapeMarkdown(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_{}[]()<>#+-.!|~", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
