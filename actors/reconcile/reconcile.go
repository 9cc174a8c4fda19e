package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// Reconciled is published on the actor system's EventStream once start-up
// reconciliation is over and the tree serves events: /readyz waits for it
// (PRODUCT R8.2). Err is set when the homeserver could not be read; the
// tree then serves from the local records alone.
type Reconciled struct {
	Report Report
	// Scope is which joined rooms were read.
	Scope    Scope
	Err      error
	Duration time.Duration
}

// Scope is which of the joined rooms start-up reconciliation reads.
type Scope int

const (
	// AllRooms reads the state of every room the bot is joined to: a start
	// after which the records may be older than the homeserver (a lost or
	// restored disk, a crash between a room's two writes).
	AllRooms Scope = iota
	// UnrecordedRooms reads the users' Spaces and the joined rooms no
	// record names: a cluster member taking the ingress over from one that
	// died, whose records in the shared database are current but for a
	// room or Space it was creating when it died. Reading every room's
	// state from a loaded homeserver was most of the takeover (12.8 s of
	// 240 rooms). The Spaces are read (one a user) because a chat or Space
	// found unrecorded is judged against them: without the recorded Space
	// a second, unrecorded one would take the user, and a chat the holder
	// made but did not list could not be listed. What only AllRooms
	// repairs (a chat's record and state event out of step) waits for the
	// next start that is not a takeover.
	UnrecordedRooms
)

// String names the scope in the log line.
func (s Scope) String() string {
	if s == UnrecordedRooms {
		return "unrecorded_rooms"
	}
	return "all_rooms"
}

// reconcileActor is the design card's reconciliation actor: the root spawns
// it first, holds every Matrix event until it reports, and learns from it
// which users have records and which rooms must start at once (a turn cut
// off, messages left queued). Its work runs in one task; it stops itself
// when done.
type reconcileActor struct {
	deps  *kit.Deps
	base  context.Context
	scope Scope
}

// reconcileDone carries the outcome to the reconcile actor itself.
type reconcileDone struct {
	loaded *UsersLoaded
	done   *Reconciled
}

// NewProps returns the props of the reconciliation actor the root spawns
// first; it reads the joined rooms of scope and reports UsersLoaded to its
// parent.
func NewProps(base context.Context, deps *kit.Deps, scope Scope) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &reconcileActor{deps: deps, base: base, scope: scope} })
}

// Receive implements actor.Actor.
func (a *reconcileActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		deps, scope := a.deps, a.scope
		kit.RunTask(c, a.base, func(ctx context.Context) any {
			start := time.Now()
			found, plan, err := reconcile(ctx, deps, false, scope)
			done := &Reconciled{Report: plan.Report, Scope: scope, Err: err, Duration: time.Since(start)}
			logReport(ctx, done)
			var loaded *UsersLoaded
			if err == nil {
				loaded = loadedAfter(ctx, deps.Store, found, plan)
			} else {
				// What landed of the plan is unknown: read it back.
				loaded = loadUsers(ctx, deps.Store)
			}
			return &reconcileDone{loaded: loaded, done: done}
		})
	case *reconcileDone:
		c.Send(c.Parent(), m.loaded)
		c.ActorSystem().EventStream.Publish(m.done)
		c.Stop(c.Self())
	case *kit.TaskPanicked:
		panic(fmt.Sprintf("reconcile task panicked: %s\n%s", m.Value, m.Stack))
	}
}

// Run reads the homeserver and the local records and plans what
// start-up reconciliation would write; unless dryRun it writes it too. It
// is what `surfaces reconcile` runs.
func Run(ctx context.Context, deps actors.Deps, dryRun bool) (Plan, error) {
	if err := deps.Validate(); err != nil {
		return Plan{}, err
	}
	_, plan, err := reconcile(ctx, kit.Prepare(deps), dryRun, AllRooms)
	return plan, err
}

// reconcile is Reconcile on prepared deps, returning what it read too.
// When the homeserver cannot be read it plans from the local records alone
// and returns the error too. With UnrecordedRooms the plan covers only the
// rooms it read: PlanFor plans nothing for a room it was not given.
func reconcile(ctx context.Context, deps *kit.Deps, dryRun bool, scope Scope) (Found, Plan, error) {
	found, readErr := readFound(ctx, deps, scope)
	if found.Users == nil && readErr != nil {
		return found, Plan{}, readErr
	}
	plan := PlanFor(found, time.Now())
	if dryRun {
		return found, plan, readErr
	}
	return found, plan, errors.Join(readErr, applyPlan(ctx, deps, plan))
}

// reconcileWorkers bounds the concurrent /state reads.
const reconcileWorkers = 8

// readFound reads the local records, then the state of the joined rooms of
// scope. A failure to read the homeserver returns the local records with
// the error.
func readFound(ctx context.Context, deps *kit.Deps, scope Scope) (Found, error) {
	var f Found
	users, err := deps.Store.ListUsers(ctx)
	if err != nil {
		return f, fmt.Errorf("failed to list users: %w", err)
	}
	f.Users = users
	for _, u := range users {
		rooms, err := deps.Store.ListRooms(ctx, u.UserID)
		if err != nil {
			return f, fmt.Errorf("failed to list the rooms of %s: %w", u.UserID, err)
		}
		f.Records = append(f.Records, rooms...)
	}
	joined, err := deps.Matrix.JoinedRooms(ctx)
	if err != nil {
		return f, err
	}
	f.Joined = len(joined)
	if scope == UnrecordedRooms {
		joined = unrecorded(joined, f)
	}
	f.Rooms = make(map[string]actors.RoomState, len(joined))
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		next = make(chan string)
	)
	for range reconcileWorkers {
		wg.Go(func() {
			for id := range next {
				st, err := deps.Matrix.RoomState(ctx, id)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					f.Rooms[id] = st
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range joined {
		next <- id
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		// A room whose state could not be read is left as it is.
		zerolog.Ctx(ctx).Warn().Err(errors.Join(errs...)).Int("rooms", len(errs)).Msg("failed to read the state of some rooms")
	}
	return f, nil
}

// unrecorded is the rooms of joined that UnrecordedRooms reads: those no
// record of f names, and the users' Spaces. A chat's room and a user's
// entry room that a record names are left out.
func unrecorded(joined []string, f Found) []string {
	recorded := make(map[string]bool, len(f.Records)+len(f.Users))
	for _, r := range f.Records {
		recorded[r.RoomID] = true
	}
	for _, u := range f.Users {
		recorded[u.EntryRoomID] = true
	}
	var out []string
	for _, id := range joined {
		if !recorded[id] {
			out = append(out, id)
		}
	}
	return out
}

// applyPlan writes the plan: records first (the bot serves from them), then
// the state events, then the sequence. A failed state write is logged and
// left to the next start.
func applyPlan(ctx context.Context, deps *kit.Deps, p Plan) error {
	log := zerolog.Ctx(ctx)
	// Thousands of users and rooms after a lost disk: batched, one durable
	// write per batch instead of one per record.
	if err := deps.Store.PutUsers(ctx, p.PutUsers); err != nil {
		return fmt.Errorf("failed to store the recovered users: %w", err)
	}
	if err := deps.Store.PutRooms(ctx, p.PutRooms); err != nil {
		return fmt.Errorf("failed to store the recovered rooms: %w", err)
	}
	for id, st := range p.SpaceStates {
		if err := deps.Matrix.SetSpaceState(ctx, id, st); err != nil {
			log.Warn().Err(err).Str("space_id", id).Msg("failed to write a Space's state event")
		}
	}
	for id, st := range p.ChatStates {
		if err := deps.Matrix.SetChatState(ctx, id, st); err != nil {
			log.Warn().Err(err).Str("room_id", id).Msg("failed to write a room's state event")
		}
	}
	for space, ids := range p.Links {
		for _, id := range ids {
			if err := deps.Matrix.AddToSpace(ctx, space, id); err != nil {
				log.Warn().Err(err).Str("space_id", space).Str("room_id", id).Msg("failed to list a chat in its Space")
			}
		}
	}
	if p.RaiseTo > 0 {
		if err := deps.Store.RaisePlatformChatID(ctx, p.RaiseTo); err != nil {
			return fmt.Errorf("failed to raise the platform_chat_id sequence: %w", err)
		}
	}
	return nil
}

// logReport writes the one summary line an operator reads after a start.
func logReport(ctx context.Context, done *Reconciled) {
	r := done.Report
	ev := zerolog.Ctx(ctx).Info()
	if done.Err != nil {
		ev = zerolog.Ctx(ctx).Error().Err(done.Err)
	}
	ev.Str("scope", done.Scope.String()).Int("users", r.Users).Int("rooms", r.Rooms).Int("rooms_joined", r.Joined).Int("recovered_users", r.RecoveredUsers).
		Int("recovered_rooms", r.RecoveredRooms).Int("repaired_records", r.RepairedRecords).
		Int("repaired_states", r.RepairedStates).Int("backfilled", r.Backfilled).Int("relinked", r.Relinked).
		Int("skipped", len(r.Skipped)).Int("extra_spaces", len(r.ExtraSpaces)).
		Dur("duration", done.Duration).Msg("reconciled")
	for _, s := range append(r.Skipped, r.ExtraSpaces...) {
		zerolog.Ctx(ctx).Info().Str("room_id", s.RoomID).Str("reason", s.Reason).Msg("reconciliation skipped a room")
	}
}

// loadedAfter is loadUsers without reading the store again: after a plan
// applied in full, the store holds what reconciliation read with the
// plan's records written over it (nothing else writes before the users
// start). Listing every room a second time was half of a cold start with
// 100,000 rooms. Only a user the plan recovered is read back, for rooms of
// theirs that no user listed.
func loadedAfter(ctx context.Context, store actors.Store, found Found, plan Plan) *UsersLoaded {
	users := make(map[string]bool, len(found.Users)+len(plan.PutUsers))
	for _, u := range found.Users {
		users[u.UserID] = true
	}
	rooms := make(map[string]actors.RoomRecord, len(found.Records)+len(plan.PutRooms))
	for _, r := range found.Records {
		rooms[r.RoomID] = r
	}
	for _, u := range plan.PutUsers {
		if users[u.UserID] {
			continue
		}
		users[u.UserID] = true
		listed, err := store.ListRooms(ctx, u.UserID)
		if err != nil {
			zerolog.Ctx(ctx).Error().Err(err).Str("user_id", u.UserID).Msg("failed to list rooms for interrupted turns")
			continue
		}
		for _, r := range listed {
			rooms[r.RoomID] = r
		}
	}
	for _, r := range plan.PutRooms {
		rooms[r.RoomID] = r
	}
	loaded := &UsersLoaded{Users: slices.Sorted(maps.Keys(users))}
	for _, r := range rooms {
		if users[r.OwnerID] && (r.TurnInFlight != nil || len(r.Queue) > 0) && !r.Archived {
			loaded.Interrupted = append(loaded.Interrupted, r)
		}
	}
	// In loadUsers's order: by user, then as ListRooms lists them.
	slices.SortFunc(loaded.Interrupted, func(a, b actors.RoomRecord) int {
		return cmp.Or(cmp.Compare(a.OwnerID, b.OwnerID), cmp.Compare(a.ChatIndex, b.ChatIndex), cmp.Compare(a.RoomID, b.RoomID))
	})
	if len(loaded.Interrupted) > 0 {
		zerolog.Ctx(ctx).Info().Int("rooms", len(loaded.Interrupted)).Msg("found rooms with a turn cut off or messages waiting")
	}
	return loaded
}

// loadUsers lists the users who have a record, so the root knows whose
// events deserve an actor, and the rooms a stop left with a turn cut off or
// messages queued, so they start at once rather than at their user's next
// message (PRODUCT R7.2). A cut turn is reported, never replayed.
func loadUsers(ctx context.Context, store actors.Store) *UsersLoaded {
	users, err := store.ListUsers(ctx)
	if err != nil {
		return &UsersLoaded{Err: err}
	}
	found := &UsersLoaded{}
	for _, u := range users {
		found.Users = append(found.Users, u.UserID)
		rooms, err := store.ListRooms(ctx, u.UserID)
		if err != nil {
			zerolog.Ctx(ctx).Error().Err(err).Str("user_id", u.UserID).Msg("failed to list rooms for interrupted turns")
			continue
		}
		for _, r := range rooms {
			if (r.TurnInFlight != nil || len(r.Queue) > 0) && !r.Archived {
				found.Interrupted = append(found.Interrupted, r)
			}
		}
	}
	if len(found.Interrupted) > 0 {
		zerolog.Ctx(ctx).Info().Int("rooms", len(found.Interrupted)).Msg("found rooms with a turn cut off or messages waiting")
	}
	return found
}

// UsersLoaded carries the users with a record and the rooms whose turn a
// restart cut off or whose queue it left waiting.
type UsersLoaded struct {
	// Users have a record; Interrupted are the rooms to wake.
	Users       []string
	Interrupted []actors.RoomRecord
	// Err is why the users could not be listed (then Users is empty).
	Err error
}
