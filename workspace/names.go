package workspace

import (
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNameBytes caps a sanitised name, extension included, well under the
// 255 bytes most file systems allow, leaving room for the time prefix and
// a " (n)" suffix.
const maxNameBytes = 180

// reserved are names Windows (and so some shared volumes) refuse.
var reserved = map[string]bool{
	"con": true, "prn": true, "aux": true, "nul": true,
	"com1": true, "com2": true, "com3": true, "com4": true, "com5": true, "com6": true, "com7": true, "com8": true, "com9": true,
	"lpt1": true, "lpt2": true, "lpt3": true, "lpt4": true, "lpt5": true, "lpt6": true, "lpt7": true, "lpt8": true, "lpt9": true,
}

// SafeName turns a name a user's client sent into a safe base name: no
// path separators, no control, format (bidi overrides) or invalid
// characters, no leading dots or spaces, not a reserved device name, at
// most maxNameBytes bytes with the extension kept. The sender's name is
// never trusted; an empty result becomes "file".
func SafeName(name string) string {
	name = strings.ToValidUTF8(name, "")
	// Only the last element counts: "../../x" is "x", "a\\b" is "b".
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			// control and format characters, bidi overrides among them
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteRune('_')
		case unicode.IsSpace(r):
			b.WriteRune(' ')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.Trim(b.String(), " .")
	name = strings.Join(strings.Fields(name), " ")
	ext := filepath.Ext(name)
	if len(ext) > 16 || strings.ContainsRune(ext, ' ') {
		ext = "" // not a real extension; truncated with the rest
	}
	stem := strings.TrimSuffix(name, ext)
	if reserved[strings.ToLower(stem)] {
		stem = "_" + stem
	}
	if len(stem)+len(ext) > maxNameBytes {
		stem = truncate(stem, maxNameBytes-len(ext))
	}
	stem = strings.TrimRight(stem, " .")
	if stem == "" {
		stem = "file"
	}
	return stem + ext
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
