package kit

import "github.com/surfaces-bot/surfaces/actors"

// Deps are the tree's ports as its actors hold them: the Deps they were
// given, with the state the actors built from them share.
type Deps struct {
	actors.Deps
	// Budget is the pacer root.NewProps put in front of Matrix; nil for an
	// actor made outside a tree (every send is then available at once).
	Budget *actors.SendPacer
	// Writes orders the writes of room records (see RecordWrites).
	Writes *RecordWrites
}

// Prepare makes the state the actors built from d share: the order of
// their record writes, and the Store that reserves chat ids on the
// homeserver before handing one out (ReservingStore).
func Prepare(d actors.Deps) *Deps {
	if _, ok := d.Store.(*ReservingStore); !ok {
		d.Store = &ReservingStore{Store: d.Store, state: d.Matrix}
	}
	return &Deps{Deps: d, Writes: NewRecordWrites()}
}

// PrepareTree is Prepare for a tree's actors, or a member's room grains:
// their posts go through one pacer, deps.Pacer or a new one under
// opts.SendBudget.
func PrepareTree(deps actors.Deps, opts *actors.Options) *Deps {
	d := Prepare(deps)
	if d.Pacer == nil {
		d.Pacer = actors.NewSendPacer(opts.SendBudget)
	}
	d.Budget = d.Pacer
	d.Matrix = d.Pacer.Paced(d.Matrix)
	return d
}
