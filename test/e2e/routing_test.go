package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"sync"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// receivedBy lists what the reference agent agentID received, as texts.
func receivedBy(stack *harness.Stack, agentID string) []string {
	var out []string
	for _, r := range stack.Agent.Received() {
		if r.AgentID == agentID && r.Type == "USER_MESSAGE" {
			out = append(out, r.Text)
		}
	}
	return out
}

func has(list []string, s string) bool { return slices.Contains(list, s) }

// Two users mapped to two agents each reach only their own; rewriting the
// registry file while the bot runs moves a user to the other agent (new
// chats go there) without a restart, and a broken edit changes nothing.
func TestRoutingFollowsTheRegistryFile(t *testing.T) {
	w := newWorldWith(t, harness.StackOptions{
		Users: []string{"alice", "bob"}, UserAgents: map[string]string{"bob": "agent-1"}, Agents: 2,
	}, "alice")
	w.onboard()
	ctx, cancel := w.wait()
	defer cancel()
	bob, err := w.stack.Login(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bob.Close() })
	bob.AcceptInvites(true)
	_, bobChat := onboard(ctx, t, w.stack.BotID, bob)
	if t.Failed() {
		t.FailNow()
	}
	bobWorld := &world{t: t, ctx: w.ctx, stack: w.stack, alice: bob, chat: bobChat}

	w.ask("alice to her agent", func(m harness.Message) bool { return m.FinalBody == "echo: alice to her agent" })
	bobWorld.ask("bob to his agent", func(m harness.Message) bool { return m.FinalBody == "echo: bob to his agent" })
	if a0, a1 := receivedBy(w.stack, "agent-0"), receivedBy(w.stack, "agent-1"); !has(a0, "alice to her agent") || has(a0, "bob to his agent") ||
		!has(a1, "bob to his agent") || has(a1, "alice to her agent") {
		t.Fatalf("agent-0 got %q, agent-1 got %q: want each user on their own agent", a0, a1)
	}

	// A broken edit (a mapping to a missing agent) changes nothing.
	if err := w.stack.WriteRegistry(map[string]string{"alice": "agent-9", "bob": "agent-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.stack.Bot.WaitForLine(ctx, regexp.MustCompile(`registry edit rejected`)); err != nil {
		t.Fatalf("the broken edit was not logged: %v", err)
	}
	w.ask("still agent 0?", func(m harness.Message) bool { return m.FinalBody == "echo: still agent 0?" })
	if !has(receivedBy(w.stack, "agent-0"), "still agent 0?") {
		t.Fatal("after a broken registry edit alice's message did not reach agent-0")
	}

	// Moving alice to agent-1: her new chats talk to agent-1.
	if err := w.stack.WriteRegistry(map[string]string{"alice": "agent-1", "bob": "agent-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.stack.Bot.WaitForLine(ctx, regexp.MustCompile(`registry reloaded`)); err != nil {
		t.Fatalf("the edit was not applied: %v", err)
	}
	w.ask("!new Moved", isNotice("**Moved**"))
	inv, err := w.alice.WaitInvite(ctx, func(inv harness.Invite) bool { return inv.Sender == w.stack.BotID && inv.Name() == "Moved" })
	if err != nil {
		t.Fatal(err)
	}
	if err := w.alice.WaitJoined(ctx, inv.RoomID); err != nil {
		t.Fatal(err)
	}
	w.askIn(inv.RoomID, "alice on agent 1", func(m harness.Message) bool { return m.FinalBody == "echo: alice on agent 1" })
	if !has(receivedBy(w.stack, "agent-1"), "alice on agent 1") {
		t.Fatalf("after the move alice's new chat did not reach agent-1: agent-1 got %q", receivedBy(w.stack, "agent-1"))
	}
}

// Under the deny policy an unmapped user's invite is declined and nothing is
// created; so is an invite from a server outside allowed_servers.
func TestInvitesTheAccessPolicyRefuses(t *testing.T) {
	tests := []struct {
		name string
		opts harness.StackOptions
		who  string
	}{
		{"an unmapped user under deny", harness.StackOptions{Users: []string{"alice"}, Unmapped: []string{"mallory"},
			BotEnv: []string{"SURFACES_AGENTS_UNASSIGNED=deny"}}, "mallory"},
		{"a server outside allowed_servers", harness.StackOptions{Users: []string{"alice"},
			BotEnv: []string{"SURFACES_MATRIX_ALLOWED_SERVERS=matrix.elsewhere.net"}}, "alice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorldWith(t, tc.opts, tc.who)
			ctx, cancel := w.wait()
			defer cancel()
			dm, err := w.alice.CreateDM(ctx, w.stack.BotID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.alice.WaitEvent(ctx, dm, func(e *event.Event) bool {
				return e.Type == event.StateMember && e.GetStateKey() == w.stack.BotID.String() &&
					e.Content.AsMember().Membership == event.MembershipLeave
			}); err != nil {
				t.Fatalf("the invite was not declined: %v", err)
			}
			// The positive signal that nothing else is coming: a mapped,
			// allowed user would have had their Space by now; here the bot
			// also never joined, so nothing was created.
			for _, inv := range w.alice.Invites() {
				if inv.Sender == w.stack.BotID {
					t.Fatalf("the bot invited the refused user to %s (%s)", inv.RoomID, inv.Name())
				}
			}
			if _, err := w.stack.Bot.WaitForLine(ctx, regexp.MustCompile(`declining invite`)); err != nil {
				t.Fatalf("no log line for the declined invite: %v", err)
			}
		})
	}
}

// Ten users onboarding at the same moment each end with a Space whose child
// is their Chat 1.
func TestTenUsersOnboardAtOnce(t *testing.T) {
	var users []string
	for i := range 10 {
		users = append(users, fmt.Sprintf("user%d", i))
	}
	w := newWorldWith(t, harness.StackOptions{Users: users}, "user0")
	ctx, cancel := w.wait()
	defer cancel()
	clients := append([]*harness.UserClient{w.alice}, w.logIn(ctx, users[1:]...)...)
	var wg sync.WaitGroup
	spaces := make([]id.RoomID, len(clients))
	chats := make([]id.RoomID, len(clients))
	for i, c := range clients {
		wg.Go(func() { spaces[i], chats[i] = onboard(ctx, t, w.stack.BotID, c) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	seen := map[id.RoomID]bool{}
	for i, c := range clients {
		if seen[spaces[i]] {
			t.Fatalf("%s got a Space another user has", c.UserID())
		}
		seen[spaces[i]] = true
		children, err := c.SpaceChildren(ctx, spaces[i])
		if err != nil {
			t.Fatal(err)
		}
		if len(children) != 1 || children[0].RoomID != chats[i] || children[0].Name != "Chat 1" {
			t.Fatalf("%s's Space children %+v, want exactly Chat 1 (%s)", c.UserID(), children, chats[i])
		}
	}
}

// Under deny, removing a user from the registry while the bot runs takes
// their access away: their next message gets a notice and reaches no agent.
func TestAccessTakenAwayWhileRunning(t *testing.T) {
	w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"},
		BotEnv: []string{"SURFACES_AGENTS_UNASSIGNED=deny"}}, "alice")
	w.onboard()
	w.ask("hello", func(m harness.Message) bool { return m.FinalBody == "echo: hello" })
	ctx, cancel := w.wait()
	defer cancel()
	if err := w.stack.WriteRegistry(map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.stack.Bot.WaitForLine(ctx, regexp.MustCompile(`registry reloaded`)); err != nil {
		t.Fatalf("the edit was not applied: %v", err)
	}
	w.ask("still there?", isNotice("don't have access"))
	if has(receivedBy(w.stack, "agent-0"), "still there?") {
		t.Fatal("the message of a user without access reached the agent")
	}
}
