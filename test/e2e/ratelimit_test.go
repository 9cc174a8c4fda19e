package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// On a homeserver that rate-limits the bot (Dendrite's limiter on, the bot
// not exempt), ten users onboarding and talking at once: every reply
// arrives whole, the 429s are counted, and none is left unanswered: the
// bot waits as asked and its sending slows down (issue 21, point 3).
func TestTenUsersOnARateLimitedHomeserver(t *testing.T) {
	var users []string
	for i := range 10 {
		users = append(users, fmt.Sprintf("user%d", i))
	}
	w := newWorldWith(t, harness.StackOptions{Users: users, HomeserverRateLimited: true}, "user0")
	ctx, cancel := w.wait()
	defer cancel()
	clients := append([]*harness.UserClient{w.alice}, w.logIn(ctx, users[1:]...)...)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			_, chat := onboard(ctx, t, w.stack.BotID, c)
			if chat == "" {
				return
			}
			for k := range 2 {
				text := fmt.Sprintf("%s asks %d", c.UserID().Localpart(), k)
				sent, err := c.SendText(ctx, chat, text)
				if err != nil {
					t.Errorf("%s: %v", c.UserID(), err)
					return
				}
				if _, err := c.WaitMessage(ctx, chat, func(m harness.Message) bool {
					return m.Sender == w.stack.BotID && m.FinalBody == "echo: "+text && c.ArrivedAfter(chat, sent, m.EventID)
				}); err != nil {
					t.Errorf("%s: no whole reply to %q: %v", c.UserID(), text, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	families := scrape(t, w)
	if got := sample(families, "surfaces_matrix_requests_total", map[string]string{"endpoint": "send", "outcome": "rate_limited"}) +
		sample(families, "surfaces_matrix_requests_total", map[string]string{"endpoint": "state", "outcome": "rate_limited"}) +
		sample(families, "surfaces_matrix_requests_total", map[string]string{"endpoint": "other", "outcome": "rate_limited"}); got == 0 {
		t.Fatal("no 429 was counted: is the homeserver's rate limit on?")
	}
	for _, l := range w.stack.Bot.StdoutLines() {
		if strings.Contains(l, "failed to update reply") || strings.Contains(l, "failed to send notice") {
			t.Fatalf("a post failed on the rate-limited homeserver: %s", l)
		}
	}
}
