package harness_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// testContext carries a logger that writes to the test log and ends a little
// before the test binary's deadline, so a stuck wait fails with a message
// instead of a panic dump.
func testContext(t *testing.T) context.Context {
	t.Helper()
	log := zerolog.New(zerolog.ConsoleWriter{Out: zerolog.NewTestWriter(t), NoColor: true}).
		Level(zerolog.InfoLevel).With().Timestamp().Logger()
	ctx := log.WithContext(context.Background())
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-30*time.Second))
		t.Cleanup(cancel)
	}
	return ctx
}

// startHomeserver builds (or reuses) Dendrite and starts one for the test; the
// server's log tail is printed if the test fails.
func startHomeserver(t *testing.T, ctx context.Context) *harness.Homeserver {
	t.Helper()
	bins, err := harness.BuildDendrite(ctx)
	if err != nil {
		t.Fatalf("BuildDendrite: %v", err)
	}
	hs, err := harness.StartHomeserver(ctx, harness.Options{Binaries: bins})
	if err != nil {
		t.Fatalf("StartHomeserver: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", hs.LogPath(), hs.LogTail(60))
		}
		if err := hs.Close(); err != nil {
			t.Errorf("closing the homeserver: %v", err)
		}
	})
	return hs
}

func newUser(t *testing.T, ctx context.Context, hs *harness.Homeserver, localpart string) *harness.UserClient {
	t.Helper()
	u, err := hs.NewUser(ctx, localpart)
	if err != nil {
		t.Fatalf("NewUser(%s): %v", localpart, err)
	}
	t.Cleanup(func() { _ = u.Close() })
	return u
}

// TestHomeserverEndToEnd drives a real Dendrite with two real clients through
// what the bot's tests need: registration, a DM with is_direct, auto-join,
// messages, an edit and a Space with a child room.
func TestHomeserverEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Dendrite; skipped with -short")
	}
	ctx := testContext(t)
	hs := startHomeserver(t, ctx)

	adminID, err := hs.RegisterUser(ctx, "operator", "operator-password", true)
	if err != nil {
		t.Fatalf("RegisterUser(admin): %v", err)
	}
	if want := id.NewUserID("operator", hs.ServerName()); adminID != want {
		t.Errorf("admin user ID = %s, want %s", adminID, want)
	}
	if _, err := hs.Login(ctx, adminID, "operator-password"); err != nil {
		t.Errorf("Login(admin): %v", err)
	}

	// Every database runs in WAL mode (see sqliteWAL for why).
	for _, name := range []string{"dendrite_roomserver.db", "dendrite_syncapi.db", "dendrite_userapi.db"} {
		if _, err := os.Stat(filepath.Join(hs.Dir(), name+"-wal")); err != nil {
			t.Errorf("%s is not in WAL mode: %v", name, err)
		}
	}

	alice := newUser(t, ctx, hs, "alice")
	bob := newUser(t, ctx, hs, "bob")
	bob.AcceptInvites(true)

	t.Run("direct message with an edit", func(t *testing.T) {
		dm, err := alice.CreateDM(ctx, bob.UserID())
		if err != nil {
			t.Fatal(err)
		}
		inv, err := bob.WaitInvite(ctx, func(inv harness.Invite) bool { return inv.RoomID == dm })
		if err != nil {
			t.Fatal(err)
		}
		if inv.Sender != alice.UserID() || !inv.IsDirect {
			t.Errorf("invite = sender %s, direct %v; want %s, true", inv.Sender, inv.IsDirect, alice.UserID())
		}
		if err := bob.WaitJoined(ctx, dm); err != nil {
			t.Fatal(err)
		}
		// Alice sends only once Bob's join reached her: that is when a person
		// would see "Bob joined" and start typing.
		if _, err := alice.WaitEvent(ctx, dm, isMembership(bob.UserID(), event.MembershipJoin)); err != nil {
			t.Fatal(err)
		}

		// Typing notifications reach the other member as ephemeral m.typing.
		if _, err := alice.Client().UserTyping(ctx, dm, true, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.WaitTyping(ctx, dm, func(users []id.UserID) bool { return slices.Contains(users, alice.UserID()) }); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.Client().UserTyping(ctx, dm, false, 0); err != nil {
			t.Fatal(err)
		}

		sent, err := alice.SendText(ctx, dm, "hello bob")
		if err != nil {
			t.Fatal(err)
		}
		msg, err := bob.WaitMessage(ctx, dm, func(m harness.Message) bool { return m.EventID == sent })
		if err != nil {
			t.Fatal(err)
		}
		if msg.FinalBody != "hello bob" || msg.Sender != alice.UserID() || msg.MsgType != event.MsgText || msg.Edits != 0 {
			t.Errorf("message = %q from %s (%s, %d edits); want %q from %s (m.text, 0 edits)",
				msg.FinalBody, msg.Sender, msg.MsgType, msg.Edits, "hello bob", alice.UserID())
		}

		if _, err := alice.EditText(ctx, dm, sent, "hello bob, edited"); err != nil {
			t.Fatal(err)
		}
		msg, err = bob.WaitMessage(ctx, dm, func(m harness.Message) bool { return m.EventID == sent && m.Edits == 1 })
		if err != nil {
			t.Fatal(err)
		}
		if msg.Body != "hello bob" || msg.FinalBody != "hello bob, edited" {
			t.Errorf("edited message body %q → %q; want %q → %q", msg.Body, msg.FinalBody, "hello bob", "hello bob, edited")
		}
		if len(msg.History) != 1 || msg.History[0].Body != "hello bob, edited" {
			t.Errorf("edit history = %+v; want one entry with the new body", msg.History)
		}
		// The edit is a message event too, but never a Message of its own.
		if got := len(bob.Messages(dm)); got != 1 {
			t.Errorf("bob sees %d messages in the DM; want 1", got)
		}
	})

	t.Run("space with a child room", func(t *testing.T) {
		space, err := alice.CreateSpace(ctx, "Surfaces", bob.UserID())
		if err != nil {
			t.Fatal(err)
		}
		child, err := alice.Client().CreateRoom(ctx, &mautrix.ReqCreateRoom{
			Name:   "Conversation",
			Preset: "private_chat",
			Invite: []id.UserID{bob.UserID()},
		})
		if err != nil {
			t.Fatal(err)
		}
		// A private room Bob is not invited to: the hierarchy hides it from
		// him, as it would in Element.
		hidden, err := alice.Client().CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: "Hidden", Preset: "private_chat"})
		if err != nil {
			t.Fatal(err)
		}
		for _, room := range []id.RoomID{child.RoomID, hidden.RoomID} {
			if err := alice.AddSpaceChild(ctx, space, room); err != nil {
				t.Fatal(err)
			}
		}
		for _, room := range []id.RoomID{space, child.RoomID} {
			if err := bob.WaitJoined(ctx, room); err != nil {
				t.Fatal(err)
			}
		}
		// Bob's sync delivers the m.space.child link once the server has it.
		if _, err := bob.WaitEvent(ctx, space, func(evt *event.Event) bool {
			return evt.Type == event.StateSpaceChild && evt.GetStateKey() == hidden.RoomID.String()
		}); err != nil {
			t.Fatal(err)
		}
		children, err := bob.SpaceChildren(ctx, space)
		if err != nil {
			t.Fatal(err)
		}
		if len(children) != 1 || children[0].RoomID != child.RoomID || children[0].Name != "Conversation" {
			t.Fatalf("bob's space children = %+v; want only %s named Conversation", children, child.RoomID)
		}
		if all, err := alice.SpaceChildren(ctx, space); err != nil || len(all) != 2 {
			t.Errorf("alice's space children = %+v, %v; want Conversation and Hidden", all, err)
		}
		if !slices.Contains(children[0].Via, hs.ServerName()) {
			t.Errorf("child via = %v; want it to contain %s", children[0].Via, hs.ServerName())
		}
		state, err := bob.RoomState(ctx, space)
		if err != nil {
			t.Fatal(err)
		}
		create := state[event.StateCreate][""]
		if create == nil || !strings.Contains(string(create.Content.VeryRaw), `"m.space"`) {
			t.Errorf("space create event = %v; want type m.space", create)
		}
	})
}

func isMembership(user id.UserID, membership event.Membership) func(*event.Event) bool {
	return func(evt *event.Event) bool {
		if evt.Type != event.StateMember || evt.GetStateKey() != user.String() {
			return false
		}
		content, ok := evt.Content.Parsed.(*event.MemberEventContent)
		return ok && content.Membership == membership
	}
}
