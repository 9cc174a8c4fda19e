package load

import (
	"context"
	"fmt"
	"sync"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// Bursts (Config.Burst): each user sends a message in every one of their
// chats at once, the user with many concurrent rooms, and what counts is
// the last of the first replies. Its floor is the same burst between two
// people: the floor users, in as many rooms of their own, one message in
// each at once, until the last one is seen; and the same burst relayed,
// each message answered, until the last answer is seen. Bot bursts and
// floor bursts take turns, so all meet the same homeserver.

// addRooms gives the floor users n rooms in all.
func (f *floor) addRooms(ctx context.Context, n int) error {
	f.rooms = []id.RoomID{f.room}
	for len(f.rooms) < n {
		room, err := f.a.CreateDM(ctx, f.b.UserID())
		if err != nil {
			return err
		}
		if err := f.b.WaitJoined(ctx, room); err != nil {
			return err
		}
		f.rooms = append(f.rooms, room)
	}
	return nil
}

// burst sends one message in each of the floor's rooms at once and returns
// how long until b had seen them all; each message's own time goes to the
// floor's latencies. With relay, b also answers each message the moment
// its sync shows it, as the barest relay would (no agent, no disk, no
// work), and burst returns how long until a had seen every answer: the
// burst's relay floor, what any bot on this homeserver would take at best
// for the burst. Its messages' times are not the floor's (the answers
// share the homeserver with them).
func (f *floor) burst(ctx context.Context, k int, relay bool) (time.Duration, error) {
	start := time.Now()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	kind := "floor burst"
	if relay {
		kind = "relay burst"
	}
	for i, room := range f.rooms {
		wg.Go(func() {
			text := fmt.Sprintf("%s %d room %d", kind, k, i)
			err := f.send(ctx, f.a, f.b, room, text)
			if err == nil && !relay {
				f.mu.Lock()
				f.took = append(f.took, time.Since(start))
				f.mu.Unlock()
			}
			if err == nil && relay {
				err = f.send(ctx, f.b, f.a, room, text+" answered")
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return 0, fmt.Errorf("a %s was not seen whole: %w", kind, errs[0])
	}
	return time.Since(start), nil
}

// send sends text in room from one user and waits for the other to see it.
func (f *floor) send(ctx context.Context, from, to *harness.UserClient, room id.RoomID, text string) error {
	if _, err := from.SendText(ctx, room, text); err != nil {
		return err
	}
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err := to.WaitMessage(wait, room, func(m harness.Message) bool {
		return m.MsgType == event.MsgText && m.Body == text
	})
	return err
}

// bursts runs cfg.Turns bot bursts, each followed by a floor burst and a
// relay burst, and records each user's last first reply of each bot burst.
func (r *run) bursts(ctx context.Context, clients []*harness.UserClient, users []string, chats [][]id.RoomID, f *floor) error {
	for k := range r.cfg.Turns {
		last := make([]time.Duration, len(clients))
		err := r.each(ctx, len(clients)*r.cfg.Rooms, func(ctx context.Context, n int) error {
			i, j := n/r.cfg.Rooms, n%r.cfg.Rooms
			turn, err := r.oneTurn(ctx, clients[i], users[i], chats[i][j], j, k, nil)
			if err != nil {
				return err
			}
			r.mu.Lock()
			if turn.FirstVisible == 0 {
				last[i] = -1 // a first reply never came: no last one to report
			} else if last[i] >= 0 {
				last[i] = max(last[i], turn.FirstVisible)
			}
			r.mu.Unlock()
			r.add(turn)
			return nil
		})
		if err != nil {
			return err
		}
		for _, d := range last {
			if d > 0 {
				r.burstLast = append(r.burstLast, d)
			}
		}
		if err := pause(ctx, r.cfg.Pace); err != nil {
			return err
		}
		d, err := f.burst(ctx, k, false)
		if err != nil {
			return err
		}
		r.floorBursts = append(r.floorBursts, d)
		if err := pause(ctx, r.cfg.Pace); err != nil {
			return err
		}
		if d, err = f.burst(ctx, k, true); err != nil {
			return err
		}
		r.relayBursts = append(r.relayBursts, d)
		if err := pause(ctx, r.cfg.Pace); err != nil {
			return err
		}
	}
	return nil
}

// pause waits d unless ctx ends first.
func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
