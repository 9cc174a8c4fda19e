package actors

import (
	"strings"
	"testing"

	"github.com/surfaces-bot/surfaces/actors/catalog"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		body    string
		ok      bool
		name    string
		args    string
		known   bool
		wordOut string
	}{
		{body: "!help", ok: true, name: "help", known: true, wordOut: "!help"},
		{body: "  !HeLp  ", ok: true, name: "help", known: true, wordOut: "!HeLp"},
		{body: "!help me please", ok: true, name: "help", args: "me please", known: true, wordOut: "!help"},
		{body: "!frobnicate x", ok: true, name: "frobnicate", args: "x", wordOut: "!frobnicate"},
		{body: "!rename\nNew name", ok: true, name: "rename", args: "New name", wordOut: "!rename"},
		{body: "hello", ok: false},
		{body: "!", ok: false},
		{body: "!!", ok: false},
		{body: "! help", ok: false},
		{body: "!1st", ok: false},
		{body: "", ok: false},
		{body: "wow! help", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			cmd, ok := ParseCommand(tc.body)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if cmd.Name != tc.name || cmd.Args != tc.args || cmd.Known != tc.known || cmd.Word != tc.wordOut {
				t.Fatalf("got %+v, want name=%q args=%q known=%v word=%q", cmd, tc.name, tc.args, tc.known, tc.wordOut)
			}
		})
	}
}

func TestHelpTextListsEveryCommand(t *testing.T) {
	for _, loc := range catalog.Locales {
		text := helpText(catalog.MustNew(loc))
		for _, spec := range commandTable {
			if !strings.Contains(text, "!"+spec.name) {
				t.Errorf("%s help does not mention !%s:\n%s", loc, spec.name, text)
			}
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"!help", "!new Chat", "hello", "!", "!\n", "!é x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		cmd, ok := ParseCommand(body)
		if ok && (cmd.Name == "" || !strings.HasPrefix(cmd.Word, "!")) {
			t.Fatalf("ParseCommand(%q) = %+v", body, cmd)
		}
	})
}
