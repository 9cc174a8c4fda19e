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
		{body: "!rename\nNew name", ok: true, name: "rename", args: "New name", known: true, wordOut: "!rename"},
		{body: "!NEW", ok: true, name: "new", known: true, wordOut: "!NEW"},
		{body: "!new    spaced   name", ok: true, name: "new", args: "spaced   name", known: true, wordOut: "!new"},
		{body: "!reset", ok: true, name: "clear", known: true, wordOut: "!reset"},
		{body: "!Clear", ok: true, name: "clear", known: true, wordOut: "!Clear"},
		{body: "!new שלום עולם", ok: true, name: "new", args: "שלום עולם", known: true, wordOut: "!new"},
		{body: "!rename 🚀 launch 👩‍💻", ok: true, name: "rename", args: "🚀 launch 👩‍💻", known: true, wordOut: "!rename"},
		{body: "!new " + strings.Repeat("x", 10000), ok: true, name: "new", args: strings.Repeat("x", 10000), known: true, wordOut: "!new"},
		{body: "!chats", ok: true, name: "chats", known: true, wordOut: "!chats"},
		{body: "!context", ok: true, name: "context", known: true, wordOut: "!context"},
		{body: "!archive", ok: true, name: "archive", known: true, wordOut: "!archive"},
		{body: "hello", ok: false},
		{body: "!", ok: false},
		{body: "!!", ok: false},
		{body: "! help", ok: false},
		{body: "!1st", ok: false},
		{body: "", ok: false},
		{body: "wow! help", ok: false},
	}
	for _, tc := range tests {
		t.Run(shorten(tc.body), func(t *testing.T) {
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
		text := HelpText(catalog.MustNew(loc))
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

func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func TestCleanName(t *testing.T) {
	long := strings.Repeat("ж", 10000)
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "Travel plans", "Travel plans", true},
		{"trimmed and collapsed", "  Travel \t\n  plans  ", "Travel plans", true},
		{"control characters removed", "Tra\x1b[31mvel\x00", "Tra[31mvel", true},
		{"right-to-left", "שלום עולם", "שלום עולם", true},
		{"emoji with joiners kept", "🚀 launch 👩‍💻", "🚀 launch 👩‍💻", true},
		{"right-to-left mark kept", "\u200fשלום", "\u200fשלום", true},
		{"only spaces", "   \n\t ", "", false},
		{"only control characters", "\x00\x01", "", false},
		{"empty", "", "", false},
		{"10,000 characters are cut", long, strings.Repeat("ж", MaxNameRunes), true},
		{"cut never ends in a space", strings.Repeat("a", MaxNameRunes-1) + " b", strings.Repeat("a", MaxNameRunes-1), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := CleanName(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("CleanName(%q) = %q, %v; want %q, %v", shorten(tc.in), got, ok, tc.want, tc.ok)
			}
			if n := len([]rune(got)); n > MaxNameRunes {
				t.Fatalf("%d runes, more than %d", n, MaxNameRunes)
			}
		})
	}
}
