package actors

import (
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
}

var commandTable = []commandSpec{
	{name: "help", scope: scopeUser, help: catalog.HelpHelp},
	{name: "yes", scope: scopeRoom, help: catalog.HelpYes},
	{name: "no", scope: scopeRoom, help: catalog.HelpNo},
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

// helpText lists every command of the table in the catalogue's words.
func helpText(cat *catalog.Catalog) string {
	var b strings.Builder
	b.WriteString(cat.T(catalog.HelpHeader))
	for _, spec := range commandTable {
		b.WriteString("\n- ")
		b.WriteString(cat.T(spec.help))
	}
	return b.String()
}
