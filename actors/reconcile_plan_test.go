package actors_test

import (
	"cmp"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/reconcile"
)

// The tests below run the reconciliation planner on synthetic topologies:
// what the homeserver says (joined rooms and the bot's state events) against
// the local records, and check the exact writes and report it plans.

const (
	rpAlice = "@alice:example.org"
	rpBob   = "@bob:example.org"
	rpCarol = "@carol:example.org"
	rpBot   = "@surfaces:example.org"

	rpSpaceA = "!space-alice:example.org"
	rpDMA    = "!dm-alice:example.org"
	rpC1     = "!chat1:example.org"
	rpC2     = "!chat2:example.org"
	rpC3     = "!chat3:example.org"
)

var (
	rpNow = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	rpT0  = time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC) // records created
	rpT1  = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	rpT2  = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	rpT3  = time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
)

// rpChat is the bot's state event of owner's chat number index.
func rpChat(owner, space string, index int, chatID string, at time.Time) actors.ChatState {
	return actors.ChatState{
		Owner: owner, SpaceID: space, ChatIndex: index, Name: fmt.Sprintf("Chat %d", index),
		PlatformChatID: chatID, AgentID: "agent-1", UpdatedAt: at,
	}
}

// rpRecord is the room record that rpChat describes.
func rpRecord(roomID, owner, space string, index int, chatID string, created, updated time.Time) actors.RoomRecord {
	return actors.RoomRecord{
		RoomID: roomID, OwnerID: owner, SpaceID: space, ChatIndex: index, Name: fmt.Sprintf("Chat %d", index),
		PlatformChatID: chatID, AgentID: "agent-1", CreatedAt: created, UpdatedAt: updated,
	}
}

// rpSpace is the bot's state event of owner's Space.
func rpSpace(owner, entry string, counter int, at time.Time) actors.SpaceState {
	return actors.SpaceState{Owner: owner, EntryRoomID: entry, AgentID: "agent-1", ChatCounter: counter, UpdatedAt: at}
}

// rpUser is the user record that rpSpace describes.
func rpUser(userID, space, entry string, counter int, created, updated time.Time) actors.UserRecord {
	return actors.UserRecord{
		UserID: userID, SpaceID: space, EntryRoomID: entry, AgentID: "agent-1", ChatCounter: counter,
		CreatedAt: created, UpdatedAt: updated,
	}
}

// rpChatRoom is a joined chat room carrying st, its owner a member.
func rpChatRoom(st actors.ChatState) actors.RoomState {
	return actors.RoomState{Chat: &st, Members: map[string]string{st.Owner: "join", rpBot: "join"}}
}

// rpSpaceRoom is a joined Space carrying st and listing children.
func rpSpaceRoom(st actors.SpaceState, children ...string) actors.RoomState {
	return actors.RoomState{Space: &st, Children: children, Members: map[string]string{st.Owner: "join", rpBot: "join"}}
}

// rpPlainRoom is a joined room with no state event of the bot's.
func rpPlainRoom(members ...string) actors.RoomState {
	m := map[string]string{rpBot: "join"}
	for _, u := range members {
		m[u] = "join"
	}
	return actors.RoomState{Members: m}
}

// rpSteady is alice with her DM, her Space and two chats, the local records
// and the state events in step: nothing to do.
func rpSteady() reconcile.Found {
	u := rpUser(rpAlice, rpSpaceA, rpDMA, 2, rpT0, rpT1)
	r1 := rpRecord(rpC1, rpAlice, rpSpaceA, 1, "17", rpT0, rpT1)
	r2 := rpRecord(rpC2, rpAlice, rpSpaceA, 2, "42", rpT0, rpT2)
	return reconcile.Found{
		Rooms: map[string]actors.RoomState{
			rpSpaceA: rpSpaceRoom(actors.SpaceStateOf(u), rpC1, rpC2),
			rpC1:     rpChatRoom(actors.ChatStateOf(r1)),
			rpC2:     rpChatRoom(actors.ChatStateOf(r2)),
			rpDMA:    rpPlainRoom(rpAlice),
		},
		Users:   []actors.UserRecord{u},
		Records: []actors.RoomRecord{r1, r2},
	}
}

// rpRecovery is alice's homeserver side with an empty state directory: her
// Space (listing both chats, its counter spaceCounter) and two chats.
func rpRecovery(spaceCounter int) reconcile.Found {
	return reconcile.Found{Rooms: map[string]actors.RoomState{
		rpSpaceA: rpSpaceRoom(rpSpace(rpAlice, rpDMA, spaceCounter, rpT1), rpC1, rpC2),
		rpC1:     rpChatRoom(rpChat(rpAlice, rpSpaceA, 1, "17", rpT1)),
		rpC2:     rpChatRoom(rpChat(rpAlice, rpSpaceA, 2, "42", rpT2)),
	}}
}

// rpSetChat changes the chat state event of room id in f.
func rpSetChat(f reconcile.Found, id string, change func(*actors.ChatState)) {
	st := f.Rooms[id]
	c := *st.Chat
	change(&c)
	st.Chat = &c
	f.Rooms[id] = st
}

// rpSetRecord changes the local record of room id in f.
func rpSetRecord(f reconcile.Found, id string, change func(*actors.RoomRecord)) {
	for i := range f.Records {
		if f.Records[i].RoomID == id {
			change(&f.Records[i])
			return
		}
	}
	panic("no record of " + id)
}

// rpApply is f after p was written: records replaced, state events set.
func rpApply(f reconcile.Found, p reconcile.Plan) reconcile.Found {
	users := map[string]actors.UserRecord{}
	for _, u := range slices.Concat(f.Users, p.PutUsers) {
		users[u.UserID] = u
	}
	records := map[string]actors.RoomRecord{}
	for _, r := range slices.Concat(f.Records, p.PutRooms) {
		records[r.RoomID] = r
	}
	rooms := maps.Clone(f.Rooms)
	for id, cs := range p.ChatStates {
		st := rooms[id]
		st.Chat = &cs
		rooms[id] = st
	}
	for id, ss := range p.SpaceStates {
		st := rooms[id]
		st.Space = &ss
		rooms[id] = st
	}
	out := reconcile.Found{Rooms: rooms}
	for _, id := range slices.Sorted(maps.Keys(users)) {
		out.Users = append(out.Users, users[id])
	}
	for _, id := range slices.Sorted(maps.Keys(records)) {
		out.Records = append(out.Records, records[id])
	}
	return out
}

// rpNormal makes plans comparable: empty is nil, lists sorted (their order
// is not part of the contract).
func rpNormal(p reconcile.Plan) reconcile.Plan {
	p.PutUsers = slices.SortedFunc(slices.Values(p.PutUsers), func(a, b actors.UserRecord) int { return cmp.Compare(a.UserID, b.UserID) })
	p.PutRooms = slices.SortedFunc(slices.Values(p.PutRooms), func(a, b actors.RoomRecord) int { return cmp.Compare(a.RoomID, b.RoomID) })
	bySkip := func(a, b reconcile.Skip) int {
		return cmp.Or(cmp.Compare(a.RoomID, b.RoomID), cmp.Compare(a.Reason, b.Reason))
	}
	p.Report.Skipped = slices.SortedFunc(slices.Values(p.Report.Skipped), bySkip)
	p.Report.ExtraSpaces = slices.SortedFunc(slices.Values(p.Report.ExtraSpaces), bySkip)
	if len(p.ChatStates) == 0 {
		p.ChatStates = nil
	}
	if len(p.SpaceStates) == 0 {
		p.SpaceStates = nil
	}
	return p
}

// rpAssert checks every field of got against want.
func rpAssert(t *testing.T, got, want reconcile.Plan) {
	t.Helper()
	got, want = rpNormal(got), rpNormal(want)
	if !reflect.DeepEqual(got.PutUsers, want.PutUsers) {
		t.Errorf("PutUsers:\n got %+v\nwant %+v", got.PutUsers, want.PutUsers)
	}
	if !reflect.DeepEqual(got.PutRooms, want.PutRooms) {
		t.Errorf("PutRooms:\n got %+v\nwant %+v", got.PutRooms, want.PutRooms)
	}
	if !reflect.DeepEqual(got.ChatStates, want.ChatStates) {
		t.Errorf("ChatStates:\n got %+v\nwant %+v", got.ChatStates, want.ChatStates)
	}
	if !reflect.DeepEqual(got.SpaceStates, want.SpaceStates) {
		t.Errorf("SpaceStates:\n got %+v\nwant %+v", got.SpaceStates, want.SpaceStates)
	}
	if len(got.Links)+len(want.Links) > 0 && !reflect.DeepEqual(got.Links, want.Links) {
		t.Errorf("Links:\n got %+v\nwant %+v", got.Links, want.Links)
	}
	if got.RaiseTo != want.RaiseTo {
		t.Errorf("RaiseTo = %d, want %d", got.RaiseTo, want.RaiseTo)
	}
	if !reflect.DeepEqual(got.Report, want.Report) {
		t.Errorf("Report:\n got %+v\nwant %+v", got.Report, want.Report)
	}
	rpRecoveredAndBackfill(t, got)
}

// rpRecoveredAndBackfill checks that Recovered and Backfill name exactly
// the writes the Report counts as recovered and backfilled.
func rpRecoveredAndBackfill(t *testing.T, p reconcile.Plan) {
	t.Helper()
	recovered := 0
	for _, u := range p.PutUsers {
		if p.Recovered[u.UserID] {
			recovered++
		}
	}
	for _, r := range p.PutRooms {
		if p.Recovered[r.RoomID] {
			recovered++
		}
	}
	if recovered != len(p.Recovered) || recovered != p.Report.RecoveredUsers+p.Report.RecoveredRooms {
		t.Errorf("Recovered %v: %d of the puts, want the %d the Report counts", p.Recovered, recovered,
			p.Report.RecoveredUsers+p.Report.RecoveredRooms)
	}
	backfill := 0
	for id := range p.Backfill {
		_, chat := p.ChatStates[id]
		_, space := p.SpaceStates[id]
		if chat || space {
			backfill++
		}
	}
	if backfill != len(p.Backfill) || backfill != p.Report.Backfilled {
		t.Errorf("Backfill %v: %d of the state writes, want the %d the Report counts", p.Backfill, backfill, p.Report.Backfilled)
	}
}

// rpNoWrites checks that p writes nothing and counts no change.
func rpNoWrites(t *testing.T, p reconcile.Plan) {
	t.Helper()
	if len(p.PutUsers) > 0 || len(p.PutRooms) > 0 || len(p.ChatStates) > 0 || len(p.SpaceStates) > 0 {
		t.Errorf("planned writes:\n PutUsers %+v\n PutRooms %+v\n ChatStates %+v\n SpaceStates %+v",
			p.PutUsers, p.PutRooms, p.ChatStates, p.SpaceStates)
	}
	r := p.Report
	if r.RecoveredUsers+r.RecoveredRooms+r.RepairedRecords+r.RepairedStates+r.Backfilled != 0 {
		t.Errorf("counted changes: %+v", r)
	}
}

func TestPlanFor(t *testing.T) {
	t.Run("steady state plans nothing", func(t *testing.T) {
		rpAssert(t, reconcile.PlanFor(rpSteady(), rpNow), reconcile.Plan{
			RaiseTo: 42,
			Report:  reconcile.Report{Users: 1, Rooms: 4},
		})
	})

	// 1. The state directory is lost: everything comes back from the
	// homeserver, the counter above every chat found.
	for _, tc := range []struct {
		name                      string
		spaceCounter, wantCounter int
	}{
		{"counter as in the Space", 2, 2},
		{"counter from the highest chat index", 1, 2},
		{"counter from the Space when higher", 5, 5},
	} {
		t.Run("recovery from an empty state directory/"+tc.name, func(t *testing.T) {
			p := reconcile.PlanFor(rpRecovery(tc.spaceCounter), rpNow)
			if tc.spaceCounter < tc.wantCounter {
				// Whether the stale Space state is rewritten now or at
				// the next start is checked under idempotence.
				p.SpaceStates, p.Report.RepairedStates = nil, 0
			}
			rpAssert(t, p, reconcile.Plan{
				PutUsers: []actors.UserRecord{rpUser(rpAlice, rpSpaceA, rpDMA, tc.wantCounter, rpNow, rpT1)},
				PutRooms: []actors.RoomRecord{
					rpRecord(rpC1, rpAlice, rpSpaceA, 1, "17", rpNow, rpT1),
					rpRecord(rpC2, rpAlice, rpSpaceA, 2, "42", rpNow, rpT2),
				},
				RaiseTo: 42,
				Report:  reconcile.Report{Users: 1, Rooms: 3, RecoveredUsers: 1, RecoveredRooms: 2},
			})
		})
	}

	t.Run("recovery stamps now when a state event has no time", func(t *testing.T) {
		f := rpRecovery(2)
		rpSetChat(f, rpC1, func(c *actors.ChatState) { c.UpdatedAt = time.Time{} })
		p := reconcile.PlanFor(f, rpNow)
		i := slices.IndexFunc(p.PutRooms, func(r actors.RoomRecord) bool { return r.RoomID == rpC1 })
		if i < 0 || !p.PutRooms[i].UpdatedAt.Equal(rpNow) {
			t.Fatalf("PutRooms = %+v, want %s recovered with UpdatedAt %s", p.PutRooms, rpC1, rpNow)
		}
	})

	// 2. Writing the plan and planning again writes nothing more.
	idempotence := []struct {
		name string
		f    func() reconcile.Found
	}{
		{"recovered as found", func() reconcile.Found { return rpRecovery(2) }},
		{"recovered with the Space's counter higher", func() reconcile.Found { return rpRecovery(5) }},
		// The Space's counter is below a chat index: the recovered user
		// has the right counter, the Space's state event must follow in
		// the same plan, not in the next one.
		{"recovered with the Space's counter stale", func() reconcile.Found { return rpRecovery(1) }},
		{"record repaired from a newer state", func() reconcile.Found {
			f := rpSteady()
			rpSetChat(f, rpC1, func(c *actors.ChatState) { c.AgentID, c.UpdatedAt = "agent-2", rpT3 })
			return f
		}},
		{"state repaired from a newer record", func() reconcile.Found {
			f := rpSteady()
			rpSetRecord(f, rpC1, func(r *actors.RoomRecord) { r.Name, r.UpdatedAt = "Plans", rpT3 })
			return f
		}},
		{"backfilled chat and Space", func() reconcile.Found {
			f := rpSteady()
			f.Rooms[rpSpaceA] = actors.RoomState{Children: []string{rpC1, rpC2}, Members: map[string]string{rpAlice: "join"}}
			f.Rooms[rpC1] = rpPlainRoom(rpAlice)
			return f
		}},
		// The Space's state event is newer than the user record (the
		// agent was changed and the disk lost its write): the user
		// record is repaired once, not at every start.
		{"user repaired from a newer Space", func() reconcile.Found {
			f := rpSteady()
			st := f.Rooms[rpSpaceA]
			sp := *st.Space
			sp.AgentID, sp.UpdatedAt = "agent-2", rpT3
			st.Space = &sp
			f.Rooms[rpSpaceA] = st
			return f
		}},
	}
	for _, tc := range idempotence {
		t.Run("idempotence/"+tc.name, func(t *testing.T) {
			f := tc.f()
			first := reconcile.PlanFor(f, rpNow)
			second := reconcile.PlanFor(rpApply(f, first), rpNow.Add(time.Hour))
			rpNoWrites(t, second)
			if second.RaiseTo != first.RaiseTo {
				t.Errorf("RaiseTo = %d after the first plan's %d", second.RaiseTo, first.RaiseTo)
			}
		})
	}

	// 3. Rooms the bot did not create are left alone and reported, but a
	// user's entry room (a DM without state) is no news.
	t.Run("foreign room skipped, entry room not reported", func(t *testing.T) {
		f := rpSteady()
		f.Rooms["!foreign:example.org"] = rpPlainRoom(rpCarol)
		rpAssert(t, reconcile.PlanFor(f, rpNow), reconcile.Plan{
			RaiseTo: 42,
			Report: reconcile.Report{Users: 1, Rooms: 5, Skipped: []reconcile.Skip{
				{RoomID: "!foreign:example.org", Reason: reconcile.SkipForeign},
			}},
		})
	})

	// 4. A Space's child that is not a chat of its owner: one the bot is
	// not in, and bob's chat listed in alice's Space (recovered as bob's).
	t.Run("unknown children of a Space", func(t *testing.T) {
		f := reconcile.Found{Rooms: map[string]actors.RoomState{
			rpSpaceA:            rpSpaceRoom(rpSpace(rpAlice, rpDMA, 1, rpT1), rpC1, "!ghost:example.org", "!bobs:example.org"),
			rpC1:                rpChatRoom(rpChat(rpAlice, rpSpaceA, 1, "17", rpT1)),
			"!bobs:example.org": rpChatRoom(rpChat(rpBob, "!space-bob:example.org", 7, "90", rpT1)),
		}}
		rpAssert(t, reconcile.PlanFor(f, rpNow), reconcile.Plan{
			PutUsers: []actors.UserRecord{rpUser(rpAlice, rpSpaceA, rpDMA, 1, rpNow, rpT1)},
			PutRooms: []actors.RoomRecord{
				rpRecord("!bobs:example.org", rpBob, "!space-bob:example.org", 7, "90", rpNow, rpT1),
				rpRecord(rpC1, rpAlice, rpSpaceA, 1, "17", rpNow, rpT1),
			},
			RaiseTo: 90,
			Report: reconcile.Report{Users: 1, Rooms: 3, RecoveredUsers: 1, RecoveredRooms: 2, Skipped: []reconcile.Skip{
				{RoomID: "!bobs:example.org", Reason: reconcile.SkipUnknownChild},
				{RoomID: "!ghost:example.org", Reason: reconcile.SkipUnknownChild},
			}},
		})
	})

	// 5. A chat its owner left or was banned from is not recovered, but its
	// number and platform_chat_id are never reused.
	for _, membership := range []string{"leave", "ban"} {
		t.Run("owner left/"+membership, func(t *testing.T) {
			f := rpRecovery(2)
			gone := rpChatRoom(rpChat(rpAlice, rpSpaceA, 3, "99", rpT1))
			gone.Members[rpAlice] = membership
			f.Rooms[rpC3] = gone
			rpAssert(t, reconcile.PlanFor(f, rpNow), reconcile.Plan{
				PutUsers: []actors.UserRecord{rpUser(rpAlice, rpSpaceA, rpDMA, 3, rpNow, rpT1)},
				PutRooms: []actors.RoomRecord{
					rpRecord(rpC1, rpAlice, rpSpaceA, 1, "17", rpNow, rpT1),
					rpRecord(rpC2, rpAlice, rpSpaceA, 2, "42", rpNow, rpT2),
				},
				// The Space's counter (2) was behind the left chat's
				// number: rewritten, so the number is never reused.
				SpaceStates: map[string]actors.SpaceState{rpSpaceA: actors.SpaceStateOf(rpUser(rpAlice, rpSpaceA, rpDMA, 3, rpNow, rpT1))},
				RaiseTo:     99,
				Report: reconcile.Report{Users: 1, Rooms: 4, RecoveredUsers: 1, RecoveredRooms: 2, RepairedStates: 1, Skipped: []reconcile.Skip{
					{RoomID: rpC3, Reason: reconcile.SkipOwnerLeft},
				}},
			})
		})
	}

	// 6. An archived chat comes back archived.
	t.Run("archived chat recovered archived", func(t *testing.T) {
		f := rpRecovery(2)
		rpSetChat(f, rpC2, func(c *actors.ChatState) { c.Archived = true })
		archived := rpRecord(rpC2, rpAlice, rpSpaceA, 2, "42", rpNow, rpT2)
		archived.Archived = true
		rpAssert(t, reconcile.PlanFor(f, rpNow), reconcile.Plan{
			PutUsers: []actors.UserRecord{rpUser(rpAlice, rpSpaceA, rpDMA, 2, rpNow, rpT1)},
			PutRooms: []actors.RoomRecord{rpRecord(rpC1, rpAlice, rpSpaceA, 1, "17", rpNow, rpT1), archived},
			RaiseTo:  42,
			Report:   reconcile.Report{Users: 1, Rooms: 3, RecoveredUsers: 1, RecoveredRooms: 2},
		})
	})

	// 7. Events of the bot's types sent by someone else are not trusted.
	t.Run("forged state event skipped", func(t *testing.T) {
		f := reconcile.Found{Rooms: map[string]actors.RoomState{
			"!forged:example.org": {Forged: 1, Members: map[string]string{"@mallory:example.org": "join", rpBot: "join"}},
		}}
		rpAssert(t, reconcile.PlanFor(f, rpNow), reconcile.Plan{
			Report: reconcile.Report{Rooms: 1, Skipped: []reconcile.Skip{
				{RoomID: "!forged:example.org", Reason: reconcile.SkipForged},
			}},
		})
	})
	t.Run("forged event beside the bot's own is ignored", func(t *testing.T) {
		f := rpRecovery(2)
		st := f.Rooms[rpC1]
		st.Forged = 2
		f.Rooms[rpC1] = st
		rpAssert(t, reconcile.PlanFor(f, rpNow), reconcile.Plan{
			PutUsers: []actors.UserRecord{rpUser(rpAlice, rpSpaceA, rpDMA, 2, rpNow, rpT1)},
			PutRooms: []actors.RoomRecord{
				rpRecord(rpC1, rpAlice, rpSpaceA, 1, "17", rpNow, rpT1),
				rpRecord(rpC2, rpAlice, rpSpaceA, 2, "42", rpNow, rpT2),
			},
			RaiseTo: 42,
			Report:  reconcile.Report{Users: 1, Rooms: 3, RecoveredUsers: 1, RecoveredRooms: 2},
		})
	})

	// 8. A user with two Spaces keeps one.
	twoSpaces := func(a, b string, aChildren, bChildren []string) reconcile.Found {
		return reconcile.Found{Rooms: map[string]actors.RoomState{
			a:    rpSpaceRoom(rpSpace(rpAlice, "!dm-a:example.org", 2, rpT1), aChildren...),
			b:    rpSpaceRoom(rpSpace(rpAlice, "!dm-b:example.org", 2, rpT1), bChildren...),
			rpC1: rpChatRoom(rpChat(rpAlice, a, 1, "17", rpT1)),
			rpC2: rpChatRoom(rpChat(rpAlice, a, 2, "42", rpT1)),
		}}
	}
	recoveredChats := func(space string) []actors.RoomRecord {
		return []actors.RoomRecord{
			rpRecord(rpC1, rpAlice, space, 1, "17", rpNow, rpT1),
			rpRecord(rpC2, rpAlice, space, 2, "42", rpNow, rpT1),
		}
	}
	t.Run("two Spaces/the one listing more chats is kept", func(t *testing.T) {
		// "!a" is the smaller id but lists fewer of alice's chats.
		f := twoSpaces("!a:example.org", "!b:example.org", []string{rpC1}, []string{rpC1, rpC2})
		rpAssert(t, reconcile.PlanFor(f, rpNow), reconcile.Plan{
			PutUsers: []actors.UserRecord{rpUser(rpAlice, "!b:example.org", "!dm-b:example.org", 2, rpNow, rpT1)},
			PutRooms: recoveredChats("!a:example.org"),
			RaiseTo:  42,
			Report: reconcile.Report{Users: 1, Rooms: 4, RecoveredUsers: 1, RecoveredRooms: 2, ExtraSpaces: []reconcile.Skip{
				{RoomID: "!a:example.org", Reason: reconcile.SkipExtraSpace},
			}},
		})
	})
	t.Run("two Spaces/only the owner's chats count", func(t *testing.T) {
		// "!a" lists three rooms, but two are bob's.
		f := twoSpaces("!a:example.org", "!b:example.org", []string{rpC1, "!b1:example.org", "!b2:example.org"}, []string{rpC1, rpC2})
		f.Rooms["!b1:example.org"] = rpChatRoom(rpChat(rpBob, "", 1, "5", rpT1))
		f.Rooms["!b2:example.org"] = rpChatRoom(rpChat(rpBob, "", 2, "6", rpT1))
		p := reconcile.PlanFor(f, rpNow)
		i := slices.IndexFunc(p.PutUsers, func(u actors.UserRecord) bool { return u.UserID == rpAlice })
		if i < 0 || p.PutUsers[i].SpaceID != "!b:example.org" {
			t.Errorf("PutUsers = %+v, want alice with Space !b:example.org", p.PutUsers)
		}
		if want := []reconcile.Skip{{RoomID: "!a:example.org", Reason: reconcile.SkipExtraSpace}}; !reflect.DeepEqual(p.Report.ExtraSpaces, want) {
			t.Errorf("ExtraSpaces = %+v, want %+v", p.Report.ExtraSpaces, want)
		}
	})
	for _, tc := range []struct {
		name                   string
		s1Children, s2Children []string
	}{
		{"first lists chat 1", []string{rpC1}, []string{rpC2}},
		{"first lists chat 2", []string{rpC2}, []string{rpC1}},
		{"both list both", []string{rpC1, rpC2}, []string{rpC2, rpC1}},
	} {
		t.Run("two Spaces/equal counts keep the smallest id/"+tc.name, func(t *testing.T) {
			const s1, s2 = "!s1:example.org", "!s2:example.org"
			want := reconcile.Plan{
				PutUsers: []actors.UserRecord{rpUser(rpAlice, s1, "!dm-a:example.org", 2, rpNow, rpT1)},
				PutRooms: recoveredChats(s1),
				RaiseTo:  42,
				Report: reconcile.Report{Users: 1, Rooms: 4, RecoveredUsers: 1, RecoveredRooms: 2, ExtraSpaces: []reconcile.Skip{
					{RoomID: s2, Reason: reconcile.SkipExtraSpace},
				}},
			}
			rpAssert(t, reconcile.PlanFor(twoSpaces(s1, s2, tc.s1Children, tc.s2Children), rpNow), want)

			// The same Spaces the other way round: s2's state is now the
			// one built first (entry "!dm-a"), s1's second (entry "!dm-b").
			swapped := twoSpaces(s2, s1, tc.s2Children, tc.s1Children)
			for _, id := range []string{rpC1, rpC2} {
				rpSetChat(swapped, id, func(c *actors.ChatState) { c.SpaceID = s1 })
			}
			want.PutUsers[0].EntryRoomID = "!dm-b:example.org"
			// Map order varies from run to run: the choice must not.
			for range 20 {
				rpAssert(t, reconcile.PlanFor(swapped, rpNow), want)
			}
		})
	}
	t.Run("two Spaces/the one the record names is kept", func(t *testing.T) {
		// The record names "!b", which lists fewer chats and has the
		// larger id: it is kept all the same.
		const sa, sb = "!a:example.org", "!b:example.org"
		u := rpUser(rpAlice, sb, rpDMA, 2, rpT0, rpT1)
		r1 := rpRecord(rpC1, rpAlice, sb, 1, "17", rpT0, rpT1)
		r2 := rpRecord(rpC2, rpAlice, sb, 2, "42", rpT0, rpT1)
		f := reconcile.Found{
			Rooms: map[string]actors.RoomState{
				sa:   rpSpaceRoom(rpSpace(rpAlice, "!dm-other:example.org", 2, rpT1), rpC1, rpC2),
				sb:   rpSpaceRoom(actors.SpaceStateOf(u), rpC1),
				rpC1: rpChatRoom(actors.ChatStateOf(r1)),
				rpC2: rpChatRoom(actors.ChatStateOf(r2)),
			},
			Users:   []actors.UserRecord{u},
			Records: []actors.RoomRecord{r1, r2},
		}
		rpAssert(t, reconcile.PlanFor(f, rpNow), reconcile.Plan{
			RaiseTo: 42,
			Report: reconcile.Report{Users: 1, Rooms: 4, ExtraSpaces: []reconcile.Skip{
				{RoomID: sa, Reason: reconcile.SkipExtraSpace},
			}},
		})
	})

	// 9. Where both a record and a state event exist, the newer wins.
	t.Run("newer side wins/record older than state is repaired", func(t *testing.T) {
		f := rpSteady()
		rpSetRecord(f, rpC1, func(r *actors.RoomRecord) { r.Turns, r.TokensUsed = 5, 1200 })
		rpSetChat(f, rpC1, func(c *actors.ChatState) { c.PlatformChatID, c.AgentID, c.UpdatedAt = "23", "agent-2", rpT3 })
		repaired := rpRecord(rpC1, rpAlice, rpSpaceA, 1, "23", rpT0, rpT3)
		repaired.AgentID, repaired.Turns, repaired.TokensUsed = "agent-2", 5, 1200
		rpAssert(t, reconcile.PlanFor(f, rpNow), reconcile.Plan{
			PutRooms: []actors.RoomRecord{repaired},
			RaiseTo:  42,
			Report:   reconcile.Report{Users: 1, Rooms: 4, RepairedRecords: 1},
		})
	})
	t.Run("newer side wins/state older than record is rewritten", func(t *testing.T) {
		f := rpSteady()
		rpSetRecord(f, rpC1, func(r *actors.RoomRecord) { r.Name, r.AgentID, r.UpdatedAt = "Plans", "agent-2", rpT3 })
		rec := rpRecord(rpC1, rpAlice, rpSpaceA, 1, "17", rpT0, rpT3)
		rec.Name, rec.AgentID = "Plans", "agent-2"
		rpAssert(t, reconcile.PlanFor(f, rpNow), reconcile.Plan{
			ChatStates: map[string]actors.ChatState{rpC1: actors.ChatStateOf(rec)},
			RaiseTo:    42,
			Report:     reconcile.Report{Users: 1, Rooms: 4, RepairedStates: 1},
		})
	})
	t.Run("newer side wins/user record older than Space state is repaired", func(t *testing.T) {
		f := rpSteady()
		st := f.Rooms[rpSpaceA]
		sp := *st.Space
		sp.AgentID, sp.DefaultAgentNoticed, sp.UpdatedAt = "agent-2", true, rpT3
		st.Space = &sp
		f.Rooms[rpSpaceA] = st
		p := reconcile.PlanFor(f, rpNow)
		if len(p.PutUsers) != 1 {
			t.Fatalf("PutUsers = %+v, want alice repaired", p.PutUsers)
		}
		u := p.PutUsers[0]
		if u.AgentID != "agent-2" || !u.DefaultAgentNoticed || u.SpaceID != rpSpaceA || u.ChatCounter != 2 || !u.CreatedAt.Equal(rpT0) {
			t.Errorf("PutUsers[0] = %+v, want the Space's agent and notice, the rest kept", u)
		}
		// Stamped no older than the state it was repaired from, or the
		// next start repairs it again.
		if u.UpdatedAt.Before(rpT3) {
			t.Errorf("PutUsers[0].UpdatedAt = %s, older than the Space state's %s", u.UpdatedAt, rpT3)
		}
		if len(p.SpaceStates) > 0 || len(p.PutRooms) > 0 || len(p.ChatStates) > 0 {
			t.Errorf("other writes: %+v %+v %+v", p.SpaceStates, p.PutRooms, p.ChatStates)
		}
		if p.Report.RepairedRecords != 1 || p.Report.RepairedStates != 0 {
			t.Errorf("Report = %+v, want 1 repaired record", p.Report)
		}
	})
	for _, tc := range []struct {
		name          string
		record, state time.Time
	}{
		{"record newer", rpT3, rpT1},
		{"state newer", rpT1, rpT3},
		{"same time", rpT1, rpT1},
	} {
		t.Run("newer side wins/equal content writes nothing/"+tc.name, func(t *testing.T) {
			f := rpSteady()
			rpSetRecord(f, rpC1, func(r *actors.RoomRecord) { r.UpdatedAt = tc.record })
			rpSetChat(f, rpC1, func(c *actors.ChatState) { c.UpdatedAt = tc.state })
			rpAssert(t, reconcile.PlanFor(f, rpNow), reconcile.Plan{
				RaiseTo: 42,
				Report:  reconcile.Report{Users: 1, Rooms: 4},
			})
		})
	}

	// 10. Rooms made before state events existed get theirs written.
	chatWithoutState := func() reconcile.Found {
		f := rpSteady()
		f.Rooms[rpC1] = rpPlainRoom(rpAlice)
		return f
	}
	spaceWithoutState := func() reconcile.Found {
		f := rpSteady()
		f.Rooms[rpSpaceA] = actors.RoomState{Children: []string{rpC1, rpC2}, Members: map[string]string{rpAlice: "join", rpBot: "join"}}
		return f
	}
	t.Run("backfill/chat with a record and no state event", func(t *testing.T) {
		f := chatWithoutState()
		p := reconcile.PlanFor(f, rpNow)
		p.Report.Skipped = nil // checked on its own below
		rpAssert(t, p, reconcile.Plan{
			ChatStates: map[string]actors.ChatState{rpC1: actors.ChatStateOf(rpRecord(rpC1, rpAlice, rpSpaceA, 1, "17", rpT0, rpT1))},
			RaiseTo:    42,
			Report:     reconcile.Report{Users: 1, Rooms: 4, Backfilled: 1},
		})
	})
	t.Run("backfill/recorded Space with no state event", func(t *testing.T) {
		p := reconcile.PlanFor(spaceWithoutState(), rpNow)
		p.Report.Skipped = nil // checked on its own below
		rpAssert(t, p, reconcile.Plan{
			SpaceStates: map[string]actors.SpaceState{rpSpaceA: actors.SpaceStateOf(rpUser(rpAlice, rpSpaceA, rpDMA, 2, rpT0, rpT1))},
			RaiseTo:     42,
			Report:      reconcile.Report{Users: 1, Rooms: 4, Backfilled: 1},
		})
	})
	// A backfilled room has a record and gets its state event written: it
	// is neither "a room the bot did not create" nor "not a chat of its
	// owner".
	for _, tc := range []struct {
		name string
		f    func() reconcile.Found
	}{
		{"chat listed in its owner's Space", chatWithoutState},
		{"the owner's recorded Space", spaceWithoutState},
	} {
		t.Run("backfill/not reported as skipped/"+tc.name, func(t *testing.T) {
			if p := reconcile.PlanFor(tc.f(), rpNow); len(p.Report.Skipped) > 0 {
				t.Errorf("Skipped = %+v, want none (the room is backfilled)", p.Report.Skipped)
			}
		})
	}

	// 12. A crash between creating a chat and listing it in the Space left
	// it out: it is listed again, and a listed or archived one is not.
	t.Run("a chat left out of its Space is listed again", func(t *testing.T) {
		f := rpRecovery(2)
		f.Rooms[rpSpaceA] = rpSpaceRoom(rpSpace(rpAlice, rpDMA, 3, rpT1), rpC1)
		f.Rooms[rpC3] = rpChatRoom(rpChat(rpAlice, rpSpaceA, 3, "43", rpT2))
		rpSetChat(f, rpC3, func(c *actors.ChatState) { c.Archived = true })
		p := reconcile.PlanFor(f, rpNow)
		if want := map[string][]string{rpSpaceA: {rpC2}}; !reflect.DeepEqual(p.Links, want) || p.Report.Relinked != 1 {
			t.Fatalf("Links %v (%d relinked), want %v", p.Links, p.Report.Relinked, want)
		}
	})

	// 11. The sequence goes above every platform_chat_id found, in state
	// events and in records alike; ids that are not numbers are not ours.
	for _, tc := range []struct {
		name              string
		recordID, stateID string
		otherStateID      string
		want              uint64
	}{
		{"record above state", "250", "40", "ctx-abc", 250},
		{"state above record", "40", "300", "", 300},
		{"non-numeric ignored", "12abc", "-7", "99999999999999999999999", 0},
	} {
		t.Run("RaiseTo/"+tc.name, func(t *testing.T) {
			// The record's room is gone (the bot is not in it any more);
			// the two chats are recovered from their state.
			old := rpRecord("!old:example.org", rpAlice, "", 1, tc.recordID, rpT0, rpT0)
			f := reconcile.Found{
				Rooms: map[string]actors.RoomState{
					rpC2: rpChatRoom(rpChat(rpAlice, "", 2, tc.stateID, rpT1)),
					rpC3: rpChatRoom(rpChat(rpAlice, "", 3, tc.otherStateID, rpT1)),
				},
				Users:   []actors.UserRecord{rpUser(rpAlice, "", rpDMA, 3, rpT0, rpT0)},
				Records: []actors.RoomRecord{old},
			}
			rpAssert(t, reconcile.PlanFor(f, rpNow), reconcile.Plan{
				PutRooms: []actors.RoomRecord{
					rpRecord(rpC2, rpAlice, "", 2, tc.stateID, rpNow, rpT1),
					rpRecord(rpC3, rpAlice, "", 3, tc.otherStateID, rpNow, rpT1),
				},
				RaiseTo: tc.want,
				Report:  reconcile.Report{Users: 1, Rooms: 2, RecoveredRooms: 2},
			})
		})
	}
}
