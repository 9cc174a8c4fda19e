package user

import (
	"cmp"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// Per-user quotas (PRODUCT R6.4): one user with access must not be able to
// make rooms on the homeserver and conversations on the agent without end,
// nor fill the volume shared with the agents. The user actor owns them,
// since it sees all of the user's chats.
//
// Staged bytes are what the user's room records hold (RoomUpdated keeps
// the user actor's copies current) plus the declared sizes of the files
// still being received (staging). A file's download is cut at what is left
// of the quota when it was routed, so a file that declares no size or a
// wrong one cannot pass it either; two such files at once could, each up
// to what was left.

// chatQuotaLeft reports whether the user may make one more chat, telling
// them otherwise.
func (a *userActor) chatQuotaLeft(c actor.Context, roomID string) bool {
	max := a.opts.MaxChats
	if max <= 0 || len(a.activeRooms()) < max {
		return true
	}
	a.log.Info().Int("max_chats", max).Msg("!new refused: the user has the most active chats allowed")
	a.notice(c, roomID, a.deps.Catalog.T(catalog.QuotaChats, "count", strconv.Itoa(max)))
	c.ActorSystem().EventStream.Publish(&actors.QuotaRefused{UserID: a.userID, Quota: actors.QuotaChats})
	return false
}

// stagedQuota routes-or-refuses a file: it returns the bytes the file may
// have (0: no quota) and false, with the user told, when nothing is left.
func (a *userActor) stagedQuota(c actor.Context, m *actors.MessageReceived) (limit int64, ok bool) {
	max := a.opts.MaxStagedBytes
	if max <= 0 {
		return 0, true
	}
	used := int64(0)
	for _, r := range a.rooms {
		for _, s := range r.Staged {
			used += s.Size
		}
	}
	for _, size := range a.staging {
		used += size
	}
	left := max - used
	if left > 0 && m.Media.Size <= left {
		a.staging[m.EventID] = m.Media.Size
		return left, true
	}
	name := cmp.Or(m.Media.FileName, "file")
	a.log.Info().Int64("max_staged_bytes", max).Int64("staged_bytes", used).Msg("file refused: the user's staged files quota is used up")
	a.notice(c, m.RoomID, a.deps.Catalog.T(catalog.QuotaStaged, "name", kit.EscapeMarkdown(name), "limit", kit.HumanSize(max), "used", kit.HumanSize(used)))
	c.ActorSystem().EventStream.Publish(&actors.QuotaRefused{UserID: a.userID, Quota: actors.QuotaStagedBytes})
	return 0, false
}

// stagedEnded ends a file's reservation and counts it in its room until
// the room's next RoomUpdated.
func (a *userActor) stagedEnded(m *kit.StagingEnded) {
	delete(a.staging, m.EventID)
	if m.Att == nil {
		return
	}
	if r, ok := a.rooms[m.RoomID]; ok {
		for _, s := range r.Staged {
			if s.EventID == m.EventID {
				return
			}
		}
		r.Staged = append(r.Staged, *m.Att)
		a.rooms[m.RoomID] = r
	}
}
