package matrix

import (
	"context"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/id"
)

// In a cluster with grains and encryption every member logs in as a device
// of its own, and a room's actor sends, encrypted with its member's
// device, wherever the cluster placed it. The members share one
// PostgreSQL database: each device's Olm account, sessions and outbound
// room keys live under an account id of its own (the bot's user id and the
// member's id), while what is known of the users' devices and the rooms'
// members and state is shared.
//
// Only the ingress holder reads the rooms' timelines, so only its machine
// sees a member join or leave a room, and it is the one that learns first
// of a user's changed devices. mautrix ends the room's outbound key then,
// so that the next message is encrypted with a new key that only the
// current members' devices get; a member standing by would go on with its
// own key for the old members (one who left could still read it, one who
// joined could not). memberCryptoStore makes ending a room's outbound key
// end every member's: each member's next message in that room shares a
// new one, read from the shared member lists and device keys.

// memberCryptoStore is the crypto store of one member's device in a
// cluster with grains (CryptoOptions.Account).
type memberCryptoStore struct {
	*crypto.SQLCryptoStore
	// user is the bot: the accounts of all its members are its id, or
	// its id, a slash and a member's id.
	user id.UserID
}

// RemoveOutboundGroupSession implements crypto.Store: it ends roomID's
// outbound room key of every member's device of the bot, not only this
// member's (see above).
func (s *memberCryptoStore) RemoveOutboundGroupSession(ctx context.Context, roomID id.RoomID) error {
	_, err := s.DB.Exec(ctx, `DELETE FROM crypto_megolm_outbound_session
		WHERE room_id=$1 AND (account_id=$2 OR account_id LIKE $3 ESCAPE '\')`,
		roomID, s.user.String(), likePrefix(s.user.String()+"/"))
	if err != nil {
		return fmt.Errorf("failed to end the outbound room key of %s: %w", roomID, err)
	}
	return nil
}

// likePrefix is a LIKE pattern matching the strings that start with
// prefix: a user id may hold an underscore, which LIKE reads as any
// character.
func likePrefix(prefix string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(prefix) + "%"
}
