package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

var (
	// hostingGrains is a member's log line once it hosts grains.
	hostingGrains = regexp.MustCompile(`"message":"hosting user and room grains"`)
	// grainsMetric is member-b's grain gauge above 0.
	grainsMetric = regexp.MustCompile(`surfaces_cluster_grains\{kind="room",member="member-b"\} [1-9]`)
	// hostsGrains is member-b's line of cluster status with grains.
	hostsGrains = regexp.MustCompile(`^member-b standby \(serves its grains\) [1-9][0-9]* `)
)

// turnStartedIn reports whether p's log shows a turn started in room.
func turnStartedIn(p *harness.Process, room id.RoomID) bool {
	for _, l := range p.StdoutLines() {
		if strings.Contains(l, `"message":"turn started"`) && strings.Contains(l, `"room_id":"`+string(room)+`"`) {
			return true
		}
	}
	return false
}

// TestClusterGrains: with cluster.grains on, the users' and the rooms'
// actors are protoactor-go grains spread over the members (issue 24). The
// ingress holder (member-a) reads the homeserver; alice's user actor runs
// on whichever member her id hashes to, and a chat placed on member-b is
// answered from member-b. When member-b is killed mid-reply, the chat
// (and alice's actor, if it was there) is placed on member-a, which tells
// alice once that the reply was cut and answers her from then on; nothing
// is answered twice or replayed.
func TestClusterGrains(t *testing.T) {
	_, env := postgresState(t)
	env = append(env, "SURFACES_CLUSTER_ENABLED=true", "SURFACES_CLUSTER_MEMBER_ID=member-a",
		"SURFACES_CLUSTER_GRAINS=true", "SURFACES_MATRIX_ENCRYPTION=off")
	w := newWorldWith(t, harness.StackOptions{Users: []string{"alice"}, BotEnv: env}, "alice")
	ctx, cancel := w.wait()
	defer cancel()
	if _, err := w.stack.Bot.WaitForLine(ctx, hostingGrains); err != nil {
		t.Fatalf("member-a hosts no grains: %v\n%s", err, w.stack.Bot.LogTail(20))
	}
	b, bAddr := startMember(t, w, "member-b")
	if _, err := b.WaitForLine(ctx, hostingGrains); err != nil {
		t.Fatalf("member-b hosts no grains: %v\n%s", err, b.LogTail(20))
	}
	if _, err := b.WaitForLine(ctx, standingBy); err != nil {
		t.Fatalf("member-b did not stand by: %v\n%s", err, b.LogTail(20))
	}
	w.onboard()

	onB := chatServedBy(t, w, b, nil)
	ctx, cancel = w.wait()
	defer cancel()

	// Each member says how many grains it hosts: on /metrics, and in
	// `surfaces cluster status` (written every 2 s).
	if code, body := get(t, "http://"+bAddr+"/metrics"); code != 200 || !grainsMetric.MatchString(body) {
		t.Fatalf("member-b's metrics (%d) lack surfaces_cluster_grains above 0", code)
	}
	var status string
	for ctx.Err() == nil {
		status = clusterStatus(t, w)
		if hostsGrains.MatchString(statusLine(status, "member-b")) && strings.HasPrefix(statusLine(status, "member-a"), "member-a ingress (reads the homeserver, serves its grains)") {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if ctx.Err() != nil {
		t.Fatalf("cluster status never showed member-b's grains:\n%s", status)
	}

	// member-b dies mid-reply.
	w.chat = onB
	if _, err := w.alice.SendText(ctx, onB, "/slow 40"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.alice.WaitMessage(ctx, onB, func(m harness.Message) bool {
		return m.Sender == w.stack.BotID && m.MsgType == event.MsgText && strings.HasPrefix(m.FinalBody, "chunk 1")
	}); err != nil {
		t.Fatal(err)
	}
	turns := len(w.stack.Agent.Received())
	killed := time.Now()
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	cutReplyToldOnce(t, w, turns, "still there?")
	t.Logf("the chat on the killed member was told and answered again %s after the kill", time.Since(killed).Round(time.Millisecond))
	if !turnStartedIn(w.stack.Bot, onB) {
		t.Fatalf("after member-b died, %s was not answered from member-a", onB)
	}
}

// chatServedBy asks in Chat 1, then in new chats, until one is answered
// from member p, and returns it: each room's place is a hash of its id
// over the two members, so one of n chats lands on p with probability
// 1-2^-n. check, when set, is run on every reply.
func chatServedBy(t *testing.T, w *world, p *harness.Process, check func(room id.RoomID, reply harness.Message)) id.RoomID {
	t.Helper()
	for i := 1; i <= 12; i++ {
		room := w.chat
		if i > 1 {
			room = w.newChat(i)
		}
		text := "where are you " + strconv.Itoa(i)
		reply := w.askIn(room, text, func(m harness.Message) bool { return m.FinalBody == "echo: "+text })
		if check != nil {
			check(room, reply)
		}
		switch {
		case turnStartedIn(p, room):
			return room
		case !turnStartedIn(w.stack.Bot, room):
			t.Fatalf("the turn in %s ran on no member's log", room)
		}
	}
	t.Fatal("12 chats, none answered from the member")
	return ""
}

// newChat asks for Chat n with !new and returns its room, joined.
func (w *world) newChat(n int) id.RoomID {
	w.t.Helper()
	name := "Chat " + strconv.Itoa(n)
	w.ask("!new", isNotice("**"+name+"**"))
	ctx, cancel := w.wait()
	defer cancel()
	inv, err := w.alice.WaitInvite(ctx, func(inv harness.Invite) bool {
		return inv.Sender == w.stack.BotID && inv.Name() == name
	})
	if err != nil {
		w.t.Fatalf("no invite to %s: %v", name, err)
	}
	if err := w.alice.WaitJoined(ctx, inv.RoomID); err != nil {
		w.t.Fatal(err)
	}
	return inv.RoomID
}
