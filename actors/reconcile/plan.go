package reconcile

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
)

// Reconciliation (PRODUCT R7.3, R11) compares what the homeserver says about
// the rooms the bot is in with the local records and plans the writes that
// bring them in step. Planning is a pure function of what was read, so the
// rules below are tested on synthetic topologies and the dry run prints
// exactly what a real run would do.
//
//   - Only state events the bot sent itself count; anything else is ignored.
//   - A record missing locally is recovered from the room's state; where both
//     exist the newer wins (UpdatedAt): an older record is repaired from the
//     state, an older state event is rewritten from the record. Rooms made
//     before state events existed get theirs written (backfilled).
//   - A user with two Spaces keeps one, picked deterministically: the one the
//     local record names, else the one listing most of the user's chats,
//     else the smallest room id; the other is reported.
//   - Nothing is created or joined; rooms the bot cannot serve (no state
//     event and no record, an owner who left) are skipped with the reason.
//   - The platform_chat_id sequence is raised above every id found.
//   - A live chat its Space does not list (a crash between creating and
//     linking it) is listed again.

// Found is what reconciliation read: the homeserver's side (rooms the bot is
// joined to and their state) and the local records.
type Found struct {
	// Rooms are the joined rooms read, with their state; Joined counts
	// every joined room, read or not (see Scope).
	Rooms  map[string]actors.RoomState
	Joined int
	Users  []actors.UserRecord
	// Records are the local room records of every user in Users.
	Records []actors.RoomRecord
}

// Plan is what reconciliation will write, and its report.
type Plan struct {
	PutUsers    []actors.UserRecord
	PutRooms    []actors.RoomRecord
	ChatStates  map[string]actors.ChatState
	SpaceStates map[string]actors.SpaceState
	// Links are chat rooms to list in their Space (a crash between creating
	// a room and linking it left it out), Space → rooms.
	Links map[string][]string
	// RaiseTo: the sequence goes above it (0: nothing to raise).
	RaiseTo uint64
	// Recovered holds the ids in PutUsers and PutRooms that had no local
	// record (the others repair one); Backfill the ids in ChatStates and
	// SpaceStates that had no state event of the bot's (the others are
	// rewritten from a newer record). The dry run says which is which.
	Recovered, Backfill map[string]bool
	Report              Report
}

// Report says what reconciliation found and did, for the log line and the
// dry run.
type Report struct {
	// Rooms counts the joined rooms read, Joined every joined room (0
	// when Found does not say).
	Users, Rooms, Joined       int
	RecoveredUsers             int
	RecoveredRooms             int
	RepairedRecords            int
	RepairedStates, Backfilled int
	Relinked                   int
	Skipped                    []Skip
	ExtraSpaces                []Skip
}

// Skip is a room reconciliation left alone, and why.
type Skip struct {
	RoomID string
	Reason string
}

// The reasons of a Skip.
const (
	SkipForeign      = "not a room the bot created (no state event of its own)"
	SkipOwnerLeft    = "its owner left it"
	SkipUnknownChild = "listed in a Space but not a chat of its owner"
	SkipForged       = "state event of the bot's type sent by someone else (ignored)"
	SkipExtraSpace   = "a second Space of the same user (another one is kept)"
)

// PlanFor plans the writes that bring the local records and the
// homeserver in step; now stamps recovered records.
func PlanFor(f Found, now time.Time) Plan {
	p := Plan{
		ChatStates: map[string]actors.ChatState{}, SpaceStates: map[string]actors.SpaceState{}, Links: map[string][]string{},
		Recovered: map[string]bool{}, Backfill: map[string]bool{},
	}
	users := map[string]actors.UserRecord{}
	for _, u := range f.Users {
		users[u.UserID] = u
	}
	records := map[string]actors.RoomRecord{}
	for _, r := range f.Records {
		records[r.RoomID] = r
	}
	// Entry rooms (DMs) and recorded Spaces are the bot's without a chat
	// state event: not foreign.
	known := map[string]bool{}
	for _, u := range f.Users {
		known[u.EntryRoomID], known[u.SpaceID] = true, true
	}
	for _, st := range f.Rooms {
		if st.Space != nil {
			known[st.Space.EntryRoomID] = true
		}
	}

	// listed: chat rooms some Space of their owner lists.
	listed := map[string]bool{}
	for _, st := range f.Rooms {
		if st.Space == nil {
			continue
		}
		for _, child := range st.Children {
			if c := f.Rooms[child].Chat; c != nil && c.Owner == st.Space.Owner {
				listed[child] = true
			}
		}
	}
	spaces := map[string][]string{} // owner → Space room ids
	var maxID uint64
	roomIDs := slices.Sorted(maps.Keys(f.Rooms))
	for _, id := range roomIDs {
		st := f.Rooms[id]
		switch {
		case st.Space != nil:
			spaces[st.Space.Owner] = append(spaces[st.Space.Owner], id)
		case st.Chat != nil:
			maxID = max(maxID, chatIDNumber(st.Chat.PlatformChatID))
			if m := st.Members[st.Chat.Owner]; m == "leave" || m == "ban" {
				p.Report.Skipped = append(p.Report.Skipped, Skip{id, SkipOwnerLeft})
				continue
			}
			p.planRoom(id, *st.Chat, records, now)
			if !listed[id] {
				p.planLink(id, *st.Chat, f.Rooms)
			}
		case records[id].RoomID != "":
			if m := st.Members[records[id].OwnerID]; m == "leave" || m == "ban" {
				p.Report.Skipped = append(p.Report.Skipped, Skip{id, SkipOwnerLeft})
				continue
			}
			// Made before state events existed: write it from the record.
			p.ChatStates[id] = actors.ChatStateOf(records[id])
			p.Backfill[id] = true
			p.Report.Backfilled++
		case st.Forged > 0:
			p.Report.Skipped = append(p.Report.Skipped, Skip{id, SkipForged})
		case !known[id]:
			p.Report.Skipped = append(p.Report.Skipped, Skip{id, SkipForeign})
		}
	}
	for _, r := range f.Records {
		maxID = max(maxID, chatIDNumber(r.PlatformChatID))
	}
	p.RaiseTo = maxID

	owners := map[string]bool{}
	for o := range spaces {
		owners[o] = true
	}
	for o := range users {
		owners[o] = true
	}
	// The highest chat number each owner's chats carry, in one pass (not
	// one pass a user: that was quadratic, a minute for 100,000 rooms).
	highest := map[string]int{}
	for _, st := range f.Rooms {
		if st.Chat != nil {
			highest[st.Chat.Owner] = max(highest[st.Chat.Owner], st.Chat.ChatIndex)
		}
	}
	for _, owner := range slices.Sorted(maps.Keys(owners)) {
		p.planUser(owner, users, spaces[owner], f.Rooms, records, highest[owner], now)
	}
	p.Report.Users = len(owners)
	p.Report.Rooms, p.Report.Joined = len(f.Rooms), f.Joined
	return p
}

// planRoom recovers or repairs the record of one chat room, or its state.
func (p *Plan) planRoom(id string, st actors.ChatState, records map[string]actors.RoomRecord, now time.Time) {
	rec, ok := records[id]
	switch {
	case !ok:
		p.PutRooms = append(p.PutRooms, actors.RoomRecord{
			RoomID: id, OwnerID: st.Owner, SpaceID: st.SpaceID, ChatIndex: st.ChatIndex, Name: st.Name,
			PlatformChatID: st.PlatformChatID, AgentID: st.AgentID, AgentDefaulted: st.AgentDefaulted,
			Archived: st.Archived, CreatedBy: st.CreatedBy, CreatedAt: now, UpdatedAt: cmp.Or(st.UpdatedAt, now),
		})
		p.Recovered[id] = true
		p.Report.RecoveredRooms++
	case actors.SameChat(actors.ChatStateOf(rec), st):
	case st.UpdatedAt.After(rec.UpdatedAt):
		rec.SpaceID, rec.ChatIndex, rec.Name = st.SpaceID, st.ChatIndex, st.Name
		rec.PlatformChatID, rec.AgentID, rec.AgentDefaulted, rec.Archived = st.PlatformChatID, st.AgentID, st.AgentDefaulted, st.Archived
		rec.UpdatedAt = st.UpdatedAt
		p.PutRooms = append(p.PutRooms, rec)
		p.Report.RepairedRecords++
	default:
		p.ChatStates[id] = actors.ChatStateOf(rec)
		p.Report.RepairedStates++
	}
}

// planLink lists a live chat no Space of its owner lists in the Space its
// state names (the owner's, with the bot in it): no room is left outside
// its Space.
func (p *Plan) planLink(id string, st actors.ChatState, rooms map[string]actors.RoomState) {
	space, ok := rooms[st.SpaceID]
	if st.Archived || !ok || space.Space == nil || space.Space.Owner != st.Owner {
		return
	}
	p.Links[st.SpaceID] = append(p.Links[st.SpaceID], id)
	p.Report.Relinked++
}

// planUser recovers or repairs one user's record and picks their Space.
func (p *Plan) planUser(owner string, users map[string]actors.UserRecord, candidates []string, rooms map[string]actors.RoomState, records map[string]actors.RoomRecord, highestChat int, now time.Time) {
	u, known := users[owner]
	space := pickSpace(owner, u.SpaceID, candidates, rooms)
	for _, other := range candidates {
		if other != space {
			p.Report.ExtraSpaces = append(p.Report.ExtraSpaces, Skip{other, SkipExtraSpace})
		}
	}
	for _, child := range rooms[space].Children {
		c := rooms[child].Chat
		if (c == nil || c.Owner != owner) && records[child].OwnerID != owner {
			p.Report.Skipped = append(p.Report.Skipped, Skip{child, SkipUnknownChild})
		}
	}
	// Chat numbers are never reused: the counter is above every chat found.
	counter := max(u.ChatCounter, highestChat)
	var st *actors.SpaceState
	if space != "" {
		st = rooms[space].Space
	}
	switch {
	case !known && st == nil:
		return // chats without a Space: their rooms are recovered, the user is made at their next invite
	case !known:
		u = actors.UserRecord{
			UserID: owner, SpaceID: space, EntryRoomID: st.EntryRoomID, AgentID: st.AgentID,
			ChatCounter: max(counter, st.ChatCounter), DefaultAgentNoticed: st.DefaultAgentNoticed,
			CreatedAt: now, UpdatedAt: cmp.Or(st.UpdatedAt, now),
		}
		p.PutUsers = append(p.PutUsers, u)
		p.Recovered[owner] = true
		p.Report.RecoveredUsers++
	default:
		newer := st != nil && st.UpdatedAt.After(u.UpdatedAt)
		if newer {
			u.EntryRoomID, u.AgentID, u.DefaultAgentNoticed = cmp.Or(st.EntryRoomID, u.EntryRoomID), st.AgentID, st.DefaultAgentNoticed
			u.UpdatedAt = st.UpdatedAt
			counter = max(counter, st.ChatCounter)
		}
		changed := newer || (u.SpaceID != space && space != "") || u.ChatCounter != counter
		if space != "" {
			u.SpaceID = space
		}
		u.ChatCounter = counter
		if changed {
			p.PutUsers = append(p.PutUsers, u)
			p.Report.RepairedRecords++
		}
	}
	if _, joined := rooms[space]; joined && (st == nil || !sameSpace(*st, actors.SpaceStateOf(u))) {
		p.SpaceStates[space] = actors.SpaceStateOf(u)
		if st == nil {
			p.Backfill[space] = true
			p.Report.Backfilled++
		} else {
			p.Report.RepairedStates++
		}
	}
}

// pickSpace chooses owner's Space among candidates: the one the local
// record names, else the one listing most of the owner's chats, else the
// smallest room id. With no candidate it keeps the recorded one.
func pickSpace(owner, recorded string, candidates []string, rooms map[string]actors.RoomState) string {
	if len(candidates) == 0 {
		return recorded
	}
	if slices.Contains(candidates, recorded) {
		return recorded
	}
	chats := func(space string) int {
		n := 0
		for _, c := range rooms[space].Children {
			if st := rooms[c].Chat; st != nil && st.Owner == owner {
				n++
			}
		}
		return n
	}
	return slices.MaxFunc(slices.Sorted(slices.Values(candidates)), func(a, b string) int {
		// MaxFunc returns the first maximum: the smallest id among equals.
		return cmp.Or(cmp.Compare(chats(a), chats(b)), cmp.Compare(b, a))
	})
}

func sameSpace(a, b actors.SpaceState) bool {
	a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	return a == b
}

// chatIDNumber is the numeric value of a platform_chat_id (0 if it is not
// one of ours).
func chatIDNumber(id string) uint64 {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return 0
	}
	return n
}
