// Command demo runs Surfaces end to end on this machine and shows a short
// conversation as the user sees it: it builds Dendrite and the bot, starts
// on loopback a homeserver, the reference agent and the bot (state in a
// temp dir), registers a demo user, and plays invite → Space and Chat 1 → a
// question → the streamed reply. It stops everything it started.
//
//	go run -tags goolm ./cmd/demo [-question TEXT] [-keep] [-v]
package main

import (
	"context"
	"flag"
	"fmt"
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

func main() {
	question := flag.String("question", "What can you do for me?", "what the demo user asks")
	keep := flag.Bool("keep", false, "keep the temp dir (logs, state) after the demo")
	verbose := flag.Bool("v", false, "also log every request of the demo user's Matrix client and the agent")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	level := zerolog.InfoLevel
	if *verbose {
		level = zerolog.DebugLevel
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}).With().Timestamp().Logger().Level(level)
	ctx = log.WithContext(ctx)
	if err := demo(ctx, *question, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func say(who, format string, args ...any) {
	fmt.Printf("%-6s %s\n", who, fmt.Sprintf(format, args...))
}

func demo(ctx context.Context, question string, keep bool) error {
	say("demo", "building Dendrite and the bot (the first run takes a few minutes)…")
	dir, err := os.MkdirTemp("", "surfaces-demo-")
	if err != nil {
		return err
	}
	if keep {
		defer say("demo", "logs and state kept in %s", dir)
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
		return err
	}
	defer func() {
		if err := stack.Close(); err != nil {
			say("demo", "%v", err)
		}
		say("demo", "stopped the bot, the agent and Dendrite")
	}()
	say("demo", "Dendrite on %s, reference agent on %s", stack.HS.URL(), stack.AgentURL)
	if err := stack.StartBot(ctx); err != nil {
		return err
	}
	say("demo", "bot %s is logged in and synced (health on http://%s/readyz)", stack.BotID, stack.HTTPAddr())

	user, err := stack.Login(ctx, "demo")
	if err != nil {
		return err
	}
	defer user.Close()
	user.AcceptInvites(true)
	wait := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, time.Minute) }

	w, cancel := wait()
	defer cancel()
	dm, err := user.CreateDM(w, stack.BotID)
	if err != nil {
		return err
	}
	say("you", "invite %s to a direct chat", stack.BotID)
	spaceInv, err := user.WaitInvite(w, func(inv harness.Invite) bool { return inv.RoomType() == event.RoomTypeSpace })
	if err != nil {
		return fmt.Errorf("no Space invitation: %w", err)
	}
	chatInv, err := user.WaitInvite(w, func(inv harness.Invite) bool { return inv.RoomID != dm && inv.RoomType() == "" })
	if err != nil {
		return fmt.Errorf("no chat invitation: %w", err)
	}
	say("you", "accept the invitations to the Space %q and to %q", spaceInv.Name(), chatInv.Name())
	pointer, err := user.WaitMessage(w, dm, fromBot(stack.BotID))
	if err != nil {
		return err
	}
	say("bot", "(direct chat) %s", pointer.FinalBody)
	welcome, err := user.WaitMessage(w, chatInv.RoomID, fromBot(stack.BotID))
	if err != nil {
		return err
	}
	say("bot", "(%s) %s", chatInv.Name(), indent(welcome.FinalBody))

	sent, err := user.SendText(w, chatInv.RoomID, question)
	if err != nil {
		return err
	}
	say("you", "(%s) %s", chatInv.Name(), question)
	want := "echo: " + question
	var reply harness.Message
	shown := ""
	for reply.FinalBody != want {
		reply, err = user.WaitMessage(w, chatInv.RoomID, func(m harness.Message) bool {
			return m.Sender == stack.BotID && m.MsgType == event.MsgText && m.EventID != sent && m.FinalBody != shown
		})
		if err != nil {
			return fmt.Errorf("no streamed reply: %w", err)
		}
		shown = reply.FinalBody
		if reply.FinalBody != want {
			say("bot", "(streaming, edit %d) %s", reply.Edits, oneLine(reply.FinalBody))
		}
	}
	say("bot", "(%s, final after %d edits) %s", chatInv.Name(), reply.Edits, reply.FinalBody)
	return nil
}

func fromBot(bot id.UserID) func(harness.Message) bool {
	return func(m harness.Message) bool { return m.Sender == bot }
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ⏎ ") }

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n       ") }
