package room

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// usageListed carries the user's rooms for !usage's totals.
type usageListed struct {
	inc   uint64
	rooms []actors.RoomRecord
	err   error
}

// usage reports turns, tokens and the median time to the first reply, for
// this chat and for all the user's chats (PRODUCT R3.13).
func (a *roomActor) usage(c actor.Context) {
	store, owner, inc := a.deps.Store, a.rec.OwnerID, a.inc
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		rooms, err := store.ListRooms(ctx, owner)
		return &usageListed{inc: inc, rooms: rooms, err: err}
	})
}

func (a *roomActor) usageListedDone(c actor.Context, m *usageListed) {
	cat := a.deps.Catalog
	if m.err != nil {
		a.log.Error().Err(m.err).Msg("failed to list rooms for !usage")
		a.notice(c, cat.T(catalog.UsageFailed))
		return
	}
	var all usageSum
	for _, r := range m.rooms {
		if r.RoomID == a.roomID {
			r = a.rec // the stored copy may lag behind this actor's
		}
		all.add(r)
	}
	var here usageSum
	here.add(a.rec)
	a.notice(c, cat.T(catalog.UsageInfo, "chat", here.text(cat), "all", all.text(cat)))
}

// usageSum adds up rooms' usage.
type usageSum struct {
	turns   int
	tokens  int64
	samples []int64
}

func (u *usageSum) add(r actors.RoomRecord) {
	u.turns += r.Turns
	u.tokens += r.TokensUsed
	u.samples = append(u.samples, r.FirstReplyMs...)
}

func (u *usageSum) text(cat *catalog.Catalog) string {
	median := cat.T(catalog.WordNone)
	if ms, ok := medianMs(u.samples); ok {
		median = formatSeconds(time.Duration(ms) * time.Millisecond)
	}
	return cat.T(catalog.UsageLine, "tokens", strconv.FormatInt(u.tokens, 10), "turns", strconv.Itoa(u.turns), "median", median)
}

// medianMs is the median of samples (the mean of the middle two for an even
// count); ok is false when there are none.
func medianMs(samples []int64) (int64, bool) {
	if len(samples) == 0 {
		return 0, false
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// formatSeconds shows a duration in seconds with one decimal, e.g. "1.3 s".
func formatSeconds(d time.Duration) string {
	return fmt.Sprintf("%.1f s", d.Seconds())
}
