// Command demo runs Surfaces end to end on this machine and shows a
// conversation as the user sees it: it builds Dendrite and the bot, starts
// on loopback a homeserver, the reference agent and the bot (state in a
// temp dir), registers a demo user, and plays invite → Space and Chat 1. Then
// it asks one scripted question and shows the streamed reply, or, with
// -chat, lets you talk as the demo user from the terminal. It stops
// everything it started.
//
//	go run -tags goolm ./cmd/demo [-question TEXT] [-keep] [-v]
//	go run -tags goolm ./cmd/demo -chat [-keep] [-v]
//
// The output is the conversation and a few status lines; -v adds the logs
// (every request of the demo user's Matrix client, the agent's frames) on
// stderr. Without -v only errors are logged.
//
// In -chat mode every line read from stdin is sent in Chat 1 as the demo
// user: text, commands (!new, !chats, !help...) and "/file PATH", which
// uploads that file (a line starting with "//" is sent with one slash less,
// so "//file x" reaches the agent as "/file x"). The bot's messages in the
// chats the user is in (also those !new makes) print as they land; on a
// terminal a reply being written shows on one live line, and in a pipe each
// message prints once, when it stops changing. Lines from a pipe are sent
// one at a time, each after the bot answered the previous one. End of input
// (Ctrl-D) or Ctrl-C stops everything and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/agents/refagent"
	"github.com/surfaces-bot/surfaces/test/harness"
)

// options are the command-line flags.
type options struct {
	question string
	keep     bool
	chat     bool
}

func main() {
	var o options
	flag.StringVar(&o.question, "question", "What can you do for me?", "what the demo user asks (without -chat)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (logs, state) after the demo")
	flag.BoolVar(&o.chat, "chat", false, "talk to the bot: read lines from stdin as the demo user until end of input or Ctrl-C")
	verbose := flag.Bool("v", false, "also log every request of the demo user's Matrix client and the agent (stderr)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx = newLogger(os.Stderr, *verbose).WithContext(ctx)
	err := run(ctx, o, os.Stdin, os.Stdout)
	// Signals stay caught until run returned: a second Ctrl-C while the demo
	// cleans up is swallowed, so the homeserver and the bot (in their own
	// process groups) are never left running.
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

// newLogger is the demo's logger: errors only, so that the output is the
// conversation, or everything down to debug with verbose.
func newLogger(w io.Writer, verbose bool) zerolog.Logger {
	level := zerolog.ErrorLevel
	if verbose {
		level = zerolog.DebugLevel
	}
	cw := zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !isTerminal(w)}
	return zerolog.New(cw).With().Timestamp().Logger().Level(level)
}

// run starts the stack, onboards the demo user, plays the scripted question
// or the chat, and stops everything it started; the error includes a failure
// to stop cleanly. In chat mode an interrupt (ctx cancelled) is a normal end.
func run(ctx context.Context, o options, in io.Reader, out io.Writer) (err error) {
	p := &printer{w: out, tty: isTerminal(out)}
	if !o.chat {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Minute)
		defer cancel()
	}
	p.say("demo", "building Dendrite and the bot (the first run takes a few minutes)…")
	dir, err := os.MkdirTemp("", "surfaces-demo-")
	if err != nil {
		return err
	}
	if o.keep {
		defer p.say("demo", "logs and state kept in %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	stack, err := harness.StartStack(ctx, harness.StackOptions{
		Dir:    dir,
		Users:  []string{"demo"},
		Agent:  refagent.Config{ChunkDelay: 250 * time.Millisecond},
		BotEnv: []string{"SURFACES_STREAMING_EDIT_INTERVAL=400ms", "SURFACES_LOG_LEVEL=info"},
	})
	if err != nil {
		return interrupted(ctx, o, err)
	}
	defer func() {
		cerr := stack.Close()
		if cerr != nil {
			cerr = fmt.Errorf("failed to stop cleanly: %w", cerr)
		}
		err = errors.Join(err, cerr)
		p.say("demo", "stopped the bot, the agent and Dendrite")
	}()
	p.say("demo", "Dendrite on %s, reference agent on %s", stack.HS.URL(), stack.AgentURL)
	if err := stack.StartBot(ctx); err != nil {
		return interrupted(ctx, o, err)
	}
	p.say("demo", "bot %s is logged in and synced (health on http://%s/readyz)", stack.BotID, stack.HTTPAddr())

	user, err := stack.Login(ctx, "demo")
	if err != nil {
		return interrupted(ctx, o, err)
	}
	defer user.Close()
	s, err := onboard(ctx, p, user, stack.BotID)
	if err != nil {
		return interrupted(ctx, o, err)
	}
	if o.chat {
		return chat(ctx, s, in, isTerminal(in))
	}
	return ask(ctx, s, o.question)
}

// interrupted makes an interrupt during the chat's set-up a normal end.
func interrupted(ctx context.Context, o options, err error) error {
	if o.chat && ctx.Err() != nil {
		return nil
	}
	return err
}

// session is the demo user after onboarding.
type session struct {
	p        *printer
	user     *harness.UserClient
	bot      id.UserID
	dm       id.RoomID
	chat     id.RoomID // Chat 1
	chatName string
}

// onboard creates the direct chat with the bot, accepts the Space and Chat 1
// and shows the bot's first messages.
func onboard(ctx context.Context, p *printer, user *harness.UserClient, bot id.UserID) (*session, error) {
	user.AcceptInvites(true)
	w, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	dm, err := user.CreateDM(w, bot)
	if err != nil {
		return nil, err
	}
	p.say("you", "invite %s to a direct chat", bot)
	spaceInv, err := user.WaitInvite(w, func(inv harness.Invite) bool { return inv.RoomType() == event.RoomTypeSpace })
	if err != nil {
		return nil, fmt.Errorf("no Space invitation: %w", err)
	}
	chatInv, err := user.WaitInvite(w, func(inv harness.Invite) bool { return inv.RoomID != dm && inv.RoomType() == "" })
	if err != nil {
		return nil, fmt.Errorf("no chat invitation: %w", err)
	}
	p.say("you", "accept the invitations to the Space %q and to %q", spaceInv.Name(), chatInv.Name())
	pointer, err := user.WaitMessage(w, dm, fromBot(bot))
	if err != nil {
		return nil, err
	}
	p.say("bot", "(direct chat) %s", pointer.FinalBody)
	welcome, err := user.WaitMessage(w, chatInv.RoomID, fromBot(bot))
	if err != nil {
		return nil, err
	}
	p.say("bot", "(%s) %s", chatInv.Name(), welcome.FinalBody)
	return &session{p: p, user: user, bot: bot, dm: dm, chat: chatInv.RoomID, chatName: chatInv.Name()}, nil
}

// ask sends the scripted question and shows the reply as it streams.
func ask(ctx context.Context, s *session, question string) error {
	w, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	sent, err := s.user.SendText(w, s.chat, question)
	if err != nil {
		return err
	}
	s.p.say("you", "(%s) %s", s.chatName, question)
	want := "echo: " + question
	var reply harness.Message
	shown := ""
	for reply.FinalBody != want {
		reply, err = s.user.WaitMessage(w, s.chat, func(m harness.Message) bool {
			return m.Sender == s.bot && m.MsgType == event.MsgText && m.EventID != sent && m.FinalBody != shown
		})
		if err != nil {
			return fmt.Errorf("no streamed reply: %w", err)
		}
		shown = reply.FinalBody
		if reply.FinalBody != want {
			s.p.say("bot", "(streaming, edit %d) %s", reply.Edits, oneLine(reply.FinalBody))
		}
	}
	s.p.say("bot", "(%s, final after %d edits) %s", s.chatName, reply.Edits, reply.FinalBody)
	return nil
}

func fromBot(bot id.UserID) func(harness.Message) bool {
	return func(m harness.Message) bool { return m.Sender == bot }
}

// printer writes the conversation: one line per message, "who" in a column,
// continuation lines indented. On a terminal it can also keep one live line
// at the bottom that the next output replaces.
type printer struct {
	w      io.Writer
	tty    bool
	status bool   // a live line is on screen
	shown  string // what it shows
}

const whoWidth = 6

func (p *printer) say(who, format string, args ...any) {
	p.clearLive()
	fmt.Fprintf(p.w, "%-*s %s\n", whoWidth, who, indent(fmt.Sprintf(format, args...)))
}

// live shows prefix and text on the live line (terminals only), text cut
// from its start to fit one screen line, so that the growing tail of a
// reply stays visible. The line is redrawn only when it changes.
func (p *printer) live(who, prefix, text string) {
	if !p.tty {
		return
	}
	width := max(79-whoWidth-1-len([]rune(prefix)), 10)
	r := []rune(oneLine(text))
	if len(r) > width {
		r = append([]rune("…"), r[len(r)-width+1:]...)
	}
	line := fmt.Sprintf("%-*s %s%s", whoWidth, who, prefix, string(r))
	if p.status && line == p.shown {
		return
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.status, p.shown = true, line
}

func (p *printer) clearLive() {
	if p.status {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.status, p.shown = false, ""
	}
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok || file == nil {
		return false
	}
	info, err := file.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ⏎ ") }

// indent indents the lines after the first to the text column; empty lines
// stay empty.
func indent(s string) string {
	lines := strings.Split(s, "\n")
	for i := 1; i < len(lines); i++ {
		if lines[i] != "" {
			lines[i] = strings.Repeat(" ", whoWidth+1) + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}
