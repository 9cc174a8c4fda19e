package actortest

import (
	"context"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
)

// The contract's entry point, with the fixtures and helpers its subtests (storecontract_*.go) share.

// RunStoreContract runs the behaviour every actors.Store must have against
// stores made by open (each subtest gets a fresh, empty store). It is run
// against persistence.Store (Badger) and against the in-memory Store of this
// package, so that the fake cannot drift from the real thing.
//
// Where actors.Store's doc comment is silent, the contract pins what the
// Badger store does and what actors rely on:
//
//   - Times are compared with time.Equal: a round trip keeps the instant to
//     the nanosecond, but neither the zone (Badger stores RFC 3339 text and
//     hands back a fixed offset or UTC) nor the monotonic clock reading.
//   - A nil and an empty Staged slice are the same; a nil and a non-nil
//     TurnInFlight are not (a non-nil, zero-valued one still means "a turn
//     was running").
//   - ListUsers is ordered by user id; ListRooms by ChatIndex, then room id;
//     ListSavedContexts by SavedAt, oldest first, then name (the numbers
//     !load shows must stay stable as contexts are added).
//   - PutSavedContext under an existing (user, name) replaces that context.
//   - ActivateRoom raises a room's Epoch by one; PutRoom and PutRooms then
//     refuse a record of a lower epoch with actors.ErrStaleEpoch and keep
//     the stored one; a record of the stored epoch or above is written.
//   - NextPlatformChatID on a fresh store returns "1", "2", ... with no gap
//     and no repeat, under concurrent callers too.
//   - Records without their identity (an empty user or room id, an empty
//     owner, a saved context without user or name) and negative chat
//     indexes are refused with an error, and nothing is written.
//   - A cancelled context fails reads and writes with an error wrapping
//     context.Canceled, and a failed write leaves nothing behind.
//   - Returned records share no memory with the store: changing a returned
//     Staged slice or TurnInFlight, or the caller's own record after a put,
//     does not change what is stored.
func RunStoreContract(t *testing.T, open func(t *testing.T) actors.Store) {
	t.Helper()
	c := contract{open: open}
	t.Run("GetMissingIsNotFound", c.getMissing)
	t.Run("UserRoundTrip", c.userRoundTrip)
	t.Run("RoomRoundTrip", c.roomRoundTrip)
	t.Run("OverwriteReplaces", c.overwriteReplaces)
	t.Run("ListUsers", c.listUsers)
	t.Run("ListRooms", c.listRooms)
	t.Run("PutRooms", c.putRooms)
	t.Run("PutUsers", c.putUsers)
	t.Run("ActivateRoomFences", c.activateRoomFences)
	t.Run("ReturnedRecordsAreCopies", c.returnedRecordsAreCopies)
	t.Run("NextPlatformChatIDSequential", c.nextIDSequential)
	t.Run("NextPlatformChatIDConcurrent", c.nextIDConcurrent)
	t.Run("RaisePlatformChatID", c.raiseID)
	t.Run("SavedContexts", c.savedContexts)
	t.Run("RejectsInvalidRecords", c.rejectsInvalidRecords)
	t.Run("CancelledContext", c.cancelledContext)
}

// contract holds the subtests of RunStoreContract.
type contract struct {
	open func(t *testing.T) actors.Store
}

// store opens a fresh store for the (sub)test t.
func (c contract) store(t *testing.T) actors.Store {
	t.Helper()
	s := c.open(t)
	if s == nil {
		t.Fatal("open returned a nil store")
	}
	return s
}

// Fixtures. Times carry nanoseconds, so that a store that truncates them
// fails the round trip, and a zone other than UTC, which Badger does not
// keep as given (hence the comparison by instant).

var contractZone = time.FixedZone("UTC+2", 2*60*60)

// contractAt is a fixed instant sec seconds into the fixture minute.
func contractAt(sec int) time.Time {
	return time.Date(2026, 4, 28, 11, 0, sec, 123456789, contractZone)
}

// contractUser sets every field of UserRecord (checked by unsetRecordFields).
func contractUser(id string) actors.UserRecord {
	return actors.UserRecord{
		UserID: id, SpaceID: "!space:example.org", EntryRoomID: "!dm:example.org",
		AgentID: "agent-0", ChatCounter: 7, DefaultAgentNoticed: true,
		CreatedAt: contractAt(1), UpdatedAt: contractAt(2),
	}
}

// contractRoom sets every field of RoomRecord and of what it points to.
func contractRoom(id, owner string) actors.RoomRecord {
	return actors.RoomRecord{
		RoomID: id, OwnerID: owner, SpaceID: "!space:example.org",
		ChatIndex: 3, Name: "Chat 3", PlatformChatID: "42", AgentID: "agent-0", AgentDefaulted: true, Archived: true,
		Staged: []actors.Attachment{
			{Path: "incoming/20260428-110000-a.pdf", Name: "a.pdf", MIME: "application/pdf", Size: 10, EventID: "$a", StagedAt: contractAt(3)},
			{Path: "incoming/20260428-110001-b.png", Name: "b.png", MIME: "image/png", Size: 20, EventID: "$b", StagedAt: contractAt(4)},
		},
		LastTurnAt:   contractAt(5),
		TokensUsed:   1234,
		Turns:        17,
		FirstReplyMs: []int64{850, 1200},
		TurnInFlight: &actors.InFlightTurn{EventID: "$turn", Text: "what's the weather?", StartedAt: contractAt(6), Ending: true,
			LastEdit: &actors.ReplyEdit{EventID: "$reply", Text: "sunny, 21 °C"}},
		LastFailed: &actors.FailedTurn{EventID: "$failed", Text: "and tomorrow?", FailedAt: contractAt(9)},
		Queue: []actors.QueuedMessage{
			{EventID: "$q1", Sender: owner, Text: "first", QueuedAt: contractAt(10)},
			{EventID: "$q2", Sender: owner, Text: "second", QueuedAt: contractAt(11)},
		},
		Taken:           []string{"$q1", "$q2"},
		CommandsVersion: "v1",
		Epoch:           4,
		CreatedBy:       "$new",
		CreatedAt:       contractAt(7),
		UpdatedAt:       contractAt(8),
	}
}

// contractSaved sets every field of SavedContext.
func contractSaved(user, name string) actors.SavedContext {
	return actors.SavedContext{UserID: user, Name: name, PlatformChatID: "17", AgentID: "agent-1", SavedAt: contractAt(9)}
}

// Helpers.

func mustPutUser(t *testing.T, ctx context.Context, s actors.Store, u actors.UserRecord) {
	t.Helper()
	if err := s.PutUser(ctx, u); err != nil {
		t.Fatalf("PutUser(%q): %v", u.UserID, err)
	}
}

func mustPutRoom(t *testing.T, ctx context.Context, s actors.Store, r actors.RoomRecord) {
	t.Helper()
	if err := s.PutRoom(ctx, r); err != nil {
		t.Fatalf("PutRoom(%q): %v", r.RoomID, err)
	}
}

func mustPutSaved(t *testing.T, ctx context.Context, s actors.Store, v actors.SavedContext) {
	t.Helper()
	if err := s.PutSavedContext(ctx, v); err != nil {
		t.Fatalf("PutSavedContext(%q, %q): %v", v.UserID, v.Name, err)
	}
}

func storeUserIDs(us []actors.UserRecord) []string {
	ids := []string{}
	for _, u := range us {
		ids = append(ids, u.UserID)
	}
	return ids
}

func storeRoomIDs(rs []actors.RoomRecord) []string {
	ids := []string{}
	for _, r := range rs {
		ids = append(ids, r.RoomID)
	}
	return ids
}

func storeSavedNames(ss []actors.SavedContext) []string {
	names := []string{}
	for _, s := range ss {
		names = append(names, s.Name)
	}
	return names
}
