package room

import "github.com/asynkron/protoactor-go/actor"

// taskResult is the result of a room command's task; a result of an
// earlier incarnation (the actor crashed meanwhile) is ignored.
type taskResult interface{ incarnation() uint64 }

func (m *renameDone) incarnation() uint64        { return m.inc }
func (m *archiveDone) incarnation() uint64       { return m.inc }
func (m *clearDone) incarnation() uint64         { return m.inc }
func (m *contextSaved) incarnation() uint64      { return m.inc }
func (m *contextsListed) incarnation() uint64    { return m.inc }
func (m *agentChosen) incarnation() uint64       { return m.inc }
func (m *commandsPublished) incarnation() uint64 { return m.inc }
func (m *usageListed) incarnation() uint64       { return m.inc }
func (m *movedToAssigned) incarnation() uint64   { return m.inc }

// taskDone hands a current task result to its handler.
func (a *roomActor) taskDone(c actor.Context, m taskResult) {
	switch m := m.(type) {
	case *renameDone:
		a.renamed(c, m)
	case *archiveDone:
		a.archived(c, m)
	case *clearDone:
		a.cleared(c, m)
	case *contextSaved:
		a.contextSavedDone(c, m)
	case *contextsListed:
		a.contextsListedDone(c, m)
	case *agentChosen:
		a.agentChosenDone(c, m)
	case *commandsPublished:
		a.commandsPublishedDone(c, m)
	case *usageListed:
		a.usageListedDone(c, m)
	case *movedToAssigned:
		a.movedToAssignedDone(c, m)
	case *cutChecked:
		a.cutCheckedDone(c, m)
	case *fileStaged:
		a.fileStagedDone(c, m)
	}
}
