package actors

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"

	"github.com/surfaces-bot/surfaces/actors/catalog"
)

// Command is a parsed "!word args" message (PRODUCT R2). Commands are handled
// by the bot and never reach the agent.
type Command struct {
	// Name is the lower-cased word after "!", aliases resolved ("reset" → "clear").
	Name string
	// Word is the word as the user typed it, with the "!", for notices.
	Word string
	// Args is the rest of the message, trimmed.
	Args string
	// Known reports whether Name is in the command table.
	Known bool
}

// commandScope says which actor handles a command.
type commandScope int

const (
	// scopeUser commands concern the user's Space (e.g. !new, !chats).
	scopeUser commandScope = iota
	// scopeRoom commands concern one room (e.g. !clear, !context).
	scopeRoom
)

// commandSpec is one row of the command table. Later capabilities add rows;
// the help text and the welcome are generated from the table, so they list
// exactly the commands that work.
type commandSpec struct {
	name    string
	aliases []string
	scope   commandScope
	help    catalog.Key
	params  []CommandParam
}

// Parameters of the commands that take one (MSC4391 descriptions).
var (
	paramName      = []CommandParam{{Key: "name", Description: "name"}}
	paramNameOpt   = []CommandParam{{Key: "name", Optional: true, Description: "name"}}
	paramWhichOpt  = []CommandParam{{Key: "which", Optional: true, Description: "number or name"}}
	paramWhichFile = []CommandParam{{Key: "which", Description: "number or all"}}
)

var commandTable = []commandSpec{
	{name: "new", scope: scopeUser, help: catalog.HelpNew, params: paramNameOpt},
	{name: "chats", scope: scopeUser, help: catalog.HelpChats},
	{name: "rename", scope: scopeRoom, help: catalog.HelpRename, params: paramName},
	{name: "archive", scope: scopeRoom, help: catalog.HelpArchive},
	{name: "clear", aliases: []string{"reset"}, scope: scopeRoom, help: catalog.HelpClear},
	{name: "context", scope: scopeRoom, help: catalog.HelpContext},
	{name: "save", scope: scopeRoom, help: catalog.HelpSave, params: paramNameOpt},
	{name: "load", scope: scopeRoom, help: catalog.HelpLoad, params: paramWhichOpt},
	{name: "agent", scope: scopeRoom, help: catalog.HelpAgent, params: paramWhichOpt},
	{name: "stop", scope: scopeRoom, help: catalog.HelpStop},
	{name: "retry", scope: scopeRoom, help: catalog.HelpRetry},
	{name: "usage", scope: scopeRoom, help: catalog.HelpUsage},
	{name: "list", scope: scopeRoom, help: catalog.HelpList},
	{name: "remove", scope: scopeRoom, help: catalog.HelpRemove, params: paramWhichFile},
	{name: "yes", scope: scopeRoom, help: catalog.HelpYes},
	{name: "no", scope: scopeRoom, help: catalog.HelpNo},
	{name: "help", scope: scopeUser, help: catalog.HelpHelp},
}

// ParseCommand parses body as a command. ok is false when body is not a
// command at all (it does not start with "!" followed by a letter); an
// unknown "!word" is a command with Known false.
func ParseCommand(body string) (cmd Command, ok bool) {
	body = strings.TrimSpace(body)
	if len(body) < 2 || body[0] != '!' {
		return Command{}, false
	}
	word, args, _ := strings.Cut(body[1:], " ")
	if i := strings.IndexAny(word, "\n\t"); i >= 0 {
		word, args = word[:i], word[i+1:]+" "+args
	}
	first := []rune(word)
	if len(first) == 0 || !unicode.IsLetter(first[0]) {
		return Command{}, false
	}
	name := strings.ToLower(word)
	cmd = Command{Name: name, Word: "!" + word, Args: strings.TrimSpace(args)}
	if spec, found := lookupCommand(name); found {
		cmd.Name, cmd.Known = spec.name, true
	}
	return cmd, true
}

func lookupCommand(name string) (commandSpec, bool) {
	for _, spec := range commandTable {
		if spec.name == name {
			return spec, true
		}
		for _, a := range spec.aliases {
			if a == name {
				return spec, true
			}
		}
	}
	return commandSpec{}, false
}

// RoomScoped reports whether the command called name is one a room actor
// runs (rather than the user's); known is false when there is none.
func RoomScoped(name string) (roomScoped, known bool) {
	spec, known := lookupCommand(name)
	return known && spec.scope == scopeRoom, known
}

// HelpText lists every command of the table in the catalogue's words.
func HelpText(cat *catalog.Catalog) string {
	var b strings.Builder
	b.WriteString(cat.T(catalog.HelpHeader))
	for _, spec := range commandTable {
		b.WriteString("\n- ")
		b.WriteString(cat.T(spec.help))
	}
	return b.String()
}

// MaxNameRunes caps a chat name (!new, !rename): Matrix allows 255 bytes in
// m.room.name, and clients cut long names anyway.
const MaxNameRunes = 80

// CleanName makes a user-given chat name safe to show: control characters
// (newlines, tabs, escape codes) removed, runs of spaces collapsed, trimmed
// and cut to MaxNameRunes. ok is false when nothing is left.
func CleanName(name string) (clean string, ok bool) {
	var b strings.Builder
	space := false
	n := 0
	for _, r := range name {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if unicode.IsControl(r) {
			continue // escape codes and the like; format characters (RTL marks, ZWJ in emoji) stay
		}
		if n == MaxNameRunes {
			break
		}
		if space {
			if n+1 == MaxNameRunes {
				break
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String(), b.Len() > 0
}

// CommandDescriptions describes the commands valid in a chat room (every
// command) or in the entry room (the user-scoped ones), in the catalogue's
// language: the description is the help line without its usage part.
func CommandDescriptions(cat *catalog.Catalog, chatRoom bool) []CommandDescription {
	var out []CommandDescription
	for _, spec := range commandTable {
		if !chatRoom && spec.scope != scopeUser {
			continue
		}
		desc := cat.T(spec.help)
		if _, after, ok := strings.Cut(desc, " — "); ok {
			desc = after
		}
		out = append(out, CommandDescription{Command: spec.name, Aliases: spec.aliases, Description: desc, Params: spec.params})
	}
	return out
}

// CommandsVersion names a set of descriptions, so a room whose published
// set differs (a new command, another locale) is updated.
func CommandsVersion(cmds []CommandDescription) string {
	h := sha256.New()
	for _, c := range cmds {
		fmt.Fprintf(h, "%s|%v|%s|%v\n", c.Command, c.Aliases, c.Description, c.Params)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
