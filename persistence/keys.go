package persistence

import (
	"fmt"
	"strings"
)

// Key layout. Every key starts with a namespace prefix and a slash; variable
// parts (Matrix ids, names) are escaped with escapeKeyPart so that a '/'
// inside an id (legal in old Matrix localparts) can never make one prefix
// scan see another owner's keys. Values are versioned JSON envelopes
// (envelope.go), except owner-index entries, which are empty.
//
//	sys/layout                                  layout version of this key space
//	user/<user_id>                              actors.UserRecord
//	room/<room_id>                              actors.RoomRecord
//	roomowner/<owner_id>/<chat_index:%020d>/<room_id>
//	                                            owner index: empty value; a
//	                                            prefix scan of roomowner/<owner_id>/
//	                                            yields the rooms ordered by
//	                                            ChatIndex (zero-padded), then room id
//	saved/<user_id>/<name>                      actors.SavedContext (one per name)
//	seq/platform_chat_id                        last platform_chat_id handed out
//	sync/token                                  the bot's Matrix sync token
//	sync/user/<user_id>/filter_id               mautrix SyncStore filter id
//	sync/user/<user_id>/next_batch              mautrix SyncStore next_batch token
//	event/<event_id>                            handled Matrix event (with a TTL)
//	meta/<name>                                 small bot-level value (device id, ...)
//	inbox/<key>                                 an appservice transaction not yet
//	                                            done with (inbox.go)
//
// The owner index is written in the same transaction as the room record, so
// the two never disagree; PutRoom moves the index entry when a room's owner
// or chat index changes.
const (
	prefixUser      = "user/"
	prefixRoom      = "room/"
	prefixRoomOwner = "roomowner/"
	prefixSaved     = "saved/"
	prefixEvent     = "event/"
	prefixMeta      = "meta/"
	prefixSyncUser  = "sync/user/"
	prefixInbox     = "inbox/"

	keyLayout       = "sys/layout"
	keySequence     = "seq/platform_chat_id"
	keySyncToken    = "sync/token"
	suffixFilterID  = "/filter_id"
	suffixNextBatch = "/next_batch"

	// layoutVersion is the version of the key layout above. Open refuses a
	// database whose layout is newer (written by a newer binary).
	layoutVersion = 1
)

// The escaping is a single-pass replacer, so it is exactly reversible:
// "%" becomes "%25" and "/" becomes "%2F", nothing else changes, which keeps
// keys readable in a debugging dump.
var (
	keyEscaper   = strings.NewReplacer("%", "%25", "/", "%2F")
	keyUnescaper = strings.NewReplacer("%2F", "/", "%25", "%")
)

func escapeKeyPart(s string) string   { return keyEscaper.Replace(s) }
func unescapeKeyPart(s string) string { return keyUnescaper.Replace(s) }

func userKey(userID string) []byte { return []byte(prefixUser + escapeKeyPart(userID)) }
func roomKey(roomID string) []byte { return []byte(prefixRoom + escapeKeyPart(roomID)) }

// roomOwnerPrefix is the prefix under which all of owner's index entries sort.
func roomOwnerPrefix(ownerID string) []byte {
	return []byte(prefixRoomOwner + escapeKeyPart(ownerID) + "/")
}

// roomOwnerKey is the index entry of one room. The chat index is zero-padded
// to 20 digits (enough for any non-negative int64) so that byte order is
// numeric order.
func roomOwnerKey(ownerID string, chatIndex int, roomID string) []byte {
	return fmt.Appendf(nil, "%s%s%020d/%s", prefixRoomOwner, escapeKeyPart(ownerID)+"/", chatIndex, escapeKeyPart(roomID))
}

// roomIDFromOwnerKey extracts the room id from an index entry. Escaped room
// ids contain no '/', so the last segment is the whole id.
func roomIDFromOwnerKey(key []byte) (string, error) {
	s := string(key)
	i := strings.LastIndexByte(s, '/')
	if i < 0 || i == len(s)-1 {
		return "", fmt.Errorf("failed to parse owner index key %q: %w", s, ErrCorrupt)
	}
	return unescapeKeyPart(s[i+1:]), nil
}

func savedPrefix(userID string) []byte { return []byte(prefixSaved + escapeKeyPart(userID) + "/") }

func savedKey(userID, name string) []byte {
	return append(savedPrefix(userID), escapeKeyPart(name)...)
}

func eventKey(eventID string) []byte { return []byte(prefixEvent + escapeKeyPart(eventID)) }
func metaKey(name string) []byte     { return []byte(prefixMeta + escapeKeyPart(name)) }
func inboxKey(key string) []byte     { return []byte(prefixInbox + escapeKeyPart(key)) }

func filterIDKey(userID string) []byte {
	return []byte(prefixSyncUser + escapeKeyPart(userID) + suffixFilterID)
}

func nextBatchKey(userID string) []byte {
	return []byte(prefixSyncUser + escapeKeyPart(userID) + suffixNextBatch)
}
