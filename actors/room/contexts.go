package room

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// A room is bound to one conversation: an agent and a platform_chat_id. The
// agent keeps its memory per platform_chat_id, so saving an id and binding a
// room to it again (!save, !load) continues the old conversation, and
// switching agents (!agent) starts a fresh one. Ids are never reused, so a
// saved one can only ever mean that conversation.

// Results of the conversation commands' store work.
type (
	// event is the command's event id (see room_commandacks.go).
	contextSaved struct {
		inc   uint64
		event string
		name  string
		err   error
	}
	// contextsListed carries the user's saved conversations for !load; which
	// is the argument, empty for "list them".
	contextsListed struct {
		inc   uint64
		event string
		which string
		list  []actors.SavedContext
		err   error
	}
	// agentChosen carries a fresh platform_chat_id for a switch to agent.
	agentChosen struct {
		inc    uint64
		event  string
		agent  actors.AgentRef
		chatID string
		err    error
	}
)

// saveContext remembers the room's conversation under a name (PRODUCT R2.12).
func (a *roomActor) saveContext(c actor.Context, cmd actors.Command) {
	name, ok := actors.CleanName(cmd.Args)
	if !ok {
		name, _ = actors.CleanName(a.rec.Name + " " + time.Now().UTC().Format("2006-01-02 15:04"))
	}
	saved := actors.SavedContext{UserID: a.rec.OwnerID, Name: name, PlatformChatID: a.rec.PlatformChatID,
		AgentID: a.rec.AgentID, SavedAt: time.Now()}
	store, inc, event := a.deps.Store, a.inc, a.commandAwaits()
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		err := store.PutSavedContext(ctx, saved)
		return &contextSaved{inc: inc, event: event, name: name, err: err}
	})
}

func (a *roomActor) contextSavedDone(c actor.Context, m *contextSaved) {
	defer a.commandDone(m.event, false)
	if m.err != nil {
		a.log.Error().Err(m.err).Msg("failed to save the conversation")
		a.notice(c, a.deps.Catalog.T(catalog.SaveFailed))
		return
	}
	a.log.Info().Str("platform_chat_id", a.rec.PlatformChatID).Msg("conversation saved")
	// Taken with the room's record, so a second delivery does not save
	// the conversation twice.
	a.commandDone(m.event, true)
	a.save(c)
	a.notice(c, a.deps.Catalog.T(catalog.Saved, "name", m.name))
}

// loadContext lists the saved conversations, or binds the room to one.
func (a *roomActor) loadContext(c actor.Context, cmd actors.Command) {
	a.holdTurns++
	store, owner, inc, which, event := a.deps.Store, a.rec.OwnerID, a.inc, cmd.Args, a.commandAwaits()
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		list, err := store.ListSavedContexts(ctx, owner)
		return &contextsListed{inc: inc, event: event, which: which, list: list, err: err}
	})
}

func (a *roomActor) contextsListedDone(c actor.Context, m *contextsListed) {
	defer a.releaseTurns(c)
	defer a.commandDone(m.event, false)
	cat := a.deps.Catalog
	switch {
	case m.err != nil:
		a.log.Error().Err(m.err).Msg("failed to list saved conversations")
		a.notice(c, cat.T(catalog.LoadFailed))
	case m.which == "" && len(m.list) == 0:
		a.notice(c, cat.T(catalog.NothingSaved))
	case m.which == "":
		var b strings.Builder
		b.WriteString(cat.T(catalog.SavedHeader))
		for i, s := range m.list {
			b.WriteString("\n")
			b.WriteString(cat.T(catalog.SavedLine, "n", strconv.Itoa(i+1), "name", s.Name,
				"agent", a.agentName(s.AgentID), "date", s.SavedAt.UTC().Format("2006-01-02 15:04")))
		}
		a.notice(c, b.String())
	default:
		s, ok := pickSaved(m.list, m.which)
		if !ok {
			a.notice(c, cat.T(catalog.LoadUnknown, "which", m.which))
			return
		}
		agent, ok := a.deps.Registry.Agent(s.AgentID)
		if !ok {
			a.notice(c, cat.T(catalog.AgentGone, "agent", s.AgentID))
			return
		}
		a.log.Info().Str("platform_chat_id", s.PlatformChatID).Str("agent_id", s.AgentID).
			Str("previous", a.rec.PlatformChatID).Msg("saved conversation loaded")
		a.commandDone(m.event, true)
		a.rebind(c, agent.ID, s.PlatformChatID)
		a.notice(c, cat.T(catalog.Loaded, "name", s.Name, "agent", kit.AgentLabel(agent)))
	}
}

// pickSaved finds a saved conversation by its number in the list (from 1)
// or by its name (case-insensitive).
func pickSaved(list []actors.SavedContext, which string) (actors.SavedContext, bool) {
	if n, err := strconv.Atoi(which); err == nil {
		if n >= 1 && n <= len(list) {
			return list[n-1], true
		}
		return actors.SavedContext{}, false
	}
	for _, s := range list {
		if strings.EqualFold(s.Name, which) {
			return s, true
		}
	}
	return actors.SavedContext{}, false
}

// chooseAgent lists the agents, or switches the room to one in a fresh
// conversation (PRODUCT R2.13), when the operator allows users to choose.
func (a *roomActor) chooseAgent(c actor.Context, cmd actors.Command) {
	cat := a.deps.Catalog
	if !a.opts.UserSelectableAgents {
		a.notice(c, cat.T(catalog.AgentFixed))
		return
	}
	agents := a.deps.Registry.Agents()
	if cmd.Args == "" {
		var b strings.Builder
		b.WriteString(cat.T(catalog.AgentsHeader))
		for i, ag := range agents {
			b.WriteString("\n")
			b.WriteString(cat.T(catalog.AgentsLine, "n", strconv.Itoa(i+1), "agent", kit.AgentLabel(ag), "id", ag.ID))
			if ag.ID == a.rec.AgentID {
				b.WriteString(cat.T(catalog.AgentsCurrent))
			}
		}
		a.notice(c, b.String())
		return
	}
	agent, ok := pickAgent(agents, cmd.Args)
	if !ok {
		a.notice(c, cat.T(catalog.AgentUnknown, "which", cmd.Args))
		return
	}
	if agent.ID == a.rec.AgentID {
		a.notice(c, cat.T(catalog.AgentSame, "agent", kit.AgentLabel(agent)))
		return
	}
	a.holdTurns++
	store, inc, event := a.deps.Store, a.inc, a.commandAwaits()
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		id, err := store.NextPlatformChatID(ctx)
		return &agentChosen{inc: inc, event: event, agent: agent, chatID: id, err: err}
	})
}

func (a *roomActor) agentChosenDone(c actor.Context, m *agentChosen) {
	defer a.releaseTurns(c)
	defer a.commandDone(m.event, false)
	cat := a.deps.Catalog
	if m.err != nil {
		a.log.Error().Err(m.err).Msg("failed to take a new platform_chat_id")
		a.notice(c, cat.T(catalog.ClearFailed))
		return
	}
	a.log.Info().Str("agent_id", m.agent.ID).Str("previous_agent_id", a.rec.AgentID).
		Str("platform_chat_id", m.chatID).Msg("room switched to another agent")
	a.commandDone(m.event, true)
	a.rebind(c, m.agent.ID, m.chatID)
	a.notice(c, cat.T(catalog.AgentSwitched, "agent", kit.AgentLabel(m.agent)))
}

// pickAgent finds an agent by its number in the registry (from 1) or its id.
func pickAgent(agents []actors.AgentRef, which string) (actors.AgentRef, bool) {
	if n, err := strconv.Atoi(which); err == nil {
		if n >= 1 && n <= len(agents) {
			return agents[n-1], true
		}
		return actors.AgentRef{}, false
	}
	for _, ag := range agents {
		if strings.EqualFold(ag.ID, which) {
			return ag, true
		}
	}
	return actors.AgentRef{}, false
}

// rebind points the room at another conversation and stores it. A running
// reply finishes on the connection it has; the next turn dials anew.
func (a *roomActor) rebind(c actor.Context, agentID, chatID string) {
	a.rec.AgentID, a.rec.PlatformChatID = agentID, chatID
	a.save(c)
	if a.turn == nil && a.connFor != connKey(a.rec) {
		a.dropConn() // bound to the previous conversation
	}
}

// agentName is an agent's label, or its id when the registry lost it.
func (a *roomActor) agentName(id string) string {
	if agent, ok := a.deps.Registry.Agent(id); ok {
		return kit.AgentLabel(agent)
	}
	return id
}

// movedToAssigned carries a fresh platform_chat_id for a room that ran on
// the default agent and moves to the one its owner was assigned.
type movedToAssigned struct {
	inc   uint64
	agent actors.AgentRef
	// toDefault is set for the way back: the owner lost their assignment
	// (default policy), so the room moves to the default agent.
	toDefault bool
	chatID    string
	err       error
}

// moveToAssigned checks, before a turn, whether a room that got the default
// agent should now move to the agent the registry assigns its owner
// (PRODUCT R5.3: rooms that ran on the default agent move over, with a
// notice; rooms on an assigned agent keep their conversation). It reports
// whether a move started; the turn then waits for it.
//
// The way back too: a room on an assigned agent whose owner the operator
// removed from user_agents under the default policy moves to the default
// agent, with a notice (PRODUCT R5.3, under the "default" policy). Where users pick
// their agents themselves (!agent), a room's agent is theirs and stays.
func (a *roomActor) moveToAssigned(c actor.Context) bool {
	if a.skipMove {
		return false
	}
	agent, assigned, err := a.deps.Registry.AgentFor(a.rec.OwnerID)
	if err != nil {
		return false
	}
	toDefault := !assigned && !a.rec.AgentDefaulted && !a.opts.UserSelectableAgents
	if !(assigned && a.rec.AgentDefaulted) && !toDefault {
		return false
	}
	if agent.ID == a.rec.AgentID {
		// The room already has that agent: nothing moves.
		a.rec.AgentDefaulted = toDefault
		a.save(c)
		return false
	}
	a.holdTurns++
	store, inc := a.deps.Store, a.inc
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		id, err := store.NextPlatformChatID(ctx)
		return &movedToAssigned{inc: inc, agent: agent, toDefault: toDefault, chatID: id, err: err}
	})
	return true
}

func (a *roomActor) movedToAssignedDone(c actor.Context, m *movedToAssigned) {
	defer a.releaseTurns(c)
	if m.err != nil {
		// The turn goes ahead on the default agent; the next one tries again.
		a.log.Error().Err(m.err).Msg("failed to take a platform_chat_id for the assigned agent")
		a.skipMove = true
		return
	}
	if m.toDefault {
		a.log.Info().Str("agent_id", m.agent.ID).Str("previous_agent_id", a.rec.AgentID).
			Str("platform_chat_id", m.chatID).Msg("room moved to the default agent: its owner has no assignment any more")
		a.rec.AgentDefaulted = true
		a.rebind(c, m.agent.ID, m.chatID)
		a.notice(c, a.deps.Catalog.T(catalog.MovedToDefault, "agent", kit.AgentLabel(m.agent)))
		return
	}
	a.log.Info().Str("agent_id", m.agent.ID).Str("previous_agent_id", a.rec.AgentID).
		Str("platform_chat_id", m.chatID).Msg("room moved from the default agent to the assigned one")
	a.rec.AgentDefaulted = false
	a.rebind(c, m.agent.ID, m.chatID)
	a.notice(c, a.deps.Catalog.T(catalog.MovedToAssigned, "agent", kit.AgentLabel(m.agent)))
}
