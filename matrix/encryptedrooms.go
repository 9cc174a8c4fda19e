package matrix

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/sqlstatestore"
)

// roomStates is the room-state store as the client sees it. mautrix
// encrypts what the bot sends only into rooms the store knows are
// encrypted, and the store learns that from syncs: a room whose
// m.room.encryption no sync carried (encryption turned on for a bot whose
// sync position is older than the store; a DM the bot has just joined)
// would get the bot's answers in the clear. So a room the store does not
// know as encrypted is checked on the homeserver once per run, before the
// first send; when the check fails the send fails too, rather than go out
// in the clear.
type roomStates struct {
	*sqlstatestore.SQLStateStore
	cli *mautrix.Client
	// checked holds the rooms asked about this run (id.RoomID → struct{}).
	checked sync.Map
}

// IsEncrypted implements mautrix.StateStore (and crypto.StateStore).
func (s *roomStates) IsEncrypted(ctx context.Context, roomID id.RoomID) (bool, error) {
	encrypted, err := s.SQLStateStore.IsEncrypted(ctx, roomID)
	if err != nil || encrypted {
		return encrypted, err
	}
	if _, done := s.checked.LoadOrStore(roomID, struct{}{}); done {
		return false, nil
	}
	var content event.EncryptionEventContent
	// StateEvent records what it reads in the store.
	err = s.cli.StateEvent(ctx, roomID, event.StateEncryption, "", &content)
	switch {
	case err == nil:
		return content.Algorithm != "", nil
	case errors.Is(err, mautrix.MNotFound):
		return false, nil
	default:
		s.checked.Delete(roomID) // asked again at the next send
		return false, fmt.Errorf("failed to check whether %s is encrypted: %w", roomID, err)
	}
}
