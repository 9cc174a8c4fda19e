package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/persistence"
	"github.com/surfaces-bot/surfaces/test/harness"
)

// A bot stopped after a reply's last post but before its record said the
// turn ended (a kill, or a cluster member dying, in that moment) leaves a
// complete reply and a record with a turn in flight that was ending. The
// next bot asks the homeserver for the mark on the reply's last post and
// says nothing; when the mark is not there, the user is told the reply was
// cut and offered !retry. When the record names the last post, an edit, the
// next bot makes that edit again and says nothing. The record is edited
// while the bot is stopped, the one way to stop it in that moment every
// time. It runs in a plain room and an encrypted one, where the bot
// decrypts its own post to read the mark.
func TestRestartAfterTheLastPostSaysNothing(t *testing.T) {
	for _, mode := range []struct {
		name string
		env  []string
		opts []harness.ClientOption
	}{
		{"plain", nil, nil},
		{"encrypted", []string{"SURFACES_MATRIX_ENCRYPTION=default", "SURFACES_MATRIX_KEY_WAIT=4s"}, []harness.ClientOption{harness.WithCrypto()}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"}, BotEnv: mode.env}, "alice", mode.opts...)
			w.onboard()
			if encrypted := roomEncrypted(t, w, w.chat); encrypted != (mode.name == "encrypted") {
				t.Fatalf("Chat 1 encrypted: %t", encrypted)
			}
			ctx, cancel := w.wait()
			defer cancel()
			// The reference agent's echo shows a tool's progress line
			// while it streams, so its reply always ends with an edit
			// that drops it: the post that carries the mark.
			question, err := w.alice.SendText(ctx, w.chat, "the question")
			if err != nil {
				t.Fatal(err)
			}
			reply, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
				return m.Sender == w.stack.BotID && m.FinalBody == "echo: the question"
			})
			if err != nil {
				t.Fatal(err)
			}
			// A command is answered by a notice, never by a reply.
			help, err := w.alice.SendText(ctx, w.chat, "!help")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
				return m.Sender == w.stack.BotID && strings.Contains(m.FinalBody, "!new")
			}); err != nil {
				t.Fatal(err)
			}
			// The last edit the record names: the reply's final text as the
			// stopped bot would have posted it (told apart here by its words).
			remade := &actors.ReplyEdit{EventID: reply.EventID.String(), Text: "echo: the question, whole"}
			toldBefore := 0
			for i, round := range []struct {
				name     string
				inFlight id.EventID
				lastEdit *actors.ReplyEdit
				told     bool
			}{
				{"the reply's last post landed", question, nil, false},
				{"no reply ended", help, nil, true},
				{"the last edit is made again", question, remade, false},
			} {
				if err := w.stack.StopBot(); err != nil {
					t.Fatal(err)
				}
				setTurnInFlight(t, w, actors.InFlightTurn{EventID: round.inFlight.String(), Text: "the question", StartedAt: time.Now(), Ending: true,
					LastEdit: round.lastEdit})
				if err := w.stack.StartBot(w.ctx); err != nil {
					t.Fatal(err)
				}
				if round.lastEdit != nil {
					if _, err := w.alice.WaitMessage(ctx, w.chat, func(m harness.Message) bool {
						return m.EventID == reply.EventID && m.FinalBody == remade.Text
					}); err != nil {
						t.Fatalf("%s: the reply does not show the recorded last edit: %v", round.name, err)
					}
				}
				if round.told {
					// Told at start, before anyone writes; !retry then
					// asks the cut message again.
					if _, err := w.alice.WaitMessage(ctx, w.chat, isNotice("I restarted while answering")); err != nil {
						t.Fatalf("%s: the user was not told the reply was cut: %v", round.name, err)
					}
					w.ask("!retry", func(m harness.Message) bool { return m.FinalBody == "echo: the question" })
				} else {
					probe := fmt.Sprintf("probe %d", i)
					w.ask(probe, func(m harness.Message) bool { return m.FinalBody == "echo: "+probe })
				}
				lines := w.stack.Bot.StdoutLines()
				silentAs := "had posted its whole reply"
				if round.lastEdit != nil {
					silentAs = "made the last edit of the turn in flight at the restart again"
				}
				silent := slices.ContainsFunc(lines, func(l string) bool {
					return strings.Contains(l, silentAs) && strings.Contains(l, round.inFlight.String())
				})
				if silent == round.told {
					t.Fatalf("%s: the bot found the reply ended: %t, want %t", round.name, silent, !round.told)
				}
				told := 0
				for _, m := range w.alice.Messages(w.chat) {
					if isNotice("I restarted while answering")(m) {
						told++
					}
				}
				if round.told {
					toldBefore++
				}
				if told != toldBefore {
					t.Fatalf("%s: %d cut notices in the chat, want %d (one for each round that is told)", round.name, told, toldBefore)
				}
			}
		})
	}
}

// setTurnInFlight writes turn as Chat 1's turn in flight into the stopped
// bot's state directory.
func setTurnInFlight(t *testing.T, w *world, turn actors.InFlightTurn) {
	t.Helper()
	ctx := context.Background()
	store, err := persistence.Open(ctx, filepath.Join(w.stack.Dir(), "state"), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r, err := store.GetRoom(ctx, w.chat.String())
	if err != nil {
		t.Fatal(err)
	}
	r.TurnInFlight = &turn
	if err := store.PutRoom(ctx, r); err != nil {
		t.Fatal(err)
	}
}
