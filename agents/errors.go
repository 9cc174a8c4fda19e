package agents

import (
	"errors"

	"github.com/surfaces-bot/surfaces/actors"
)

// Sentinels of this package. The ports' own sentinels (actors.ErrAgent*,
// actors.ErrAccessDenied, actors.ErrUnknownAgent) are wrapped as well where
// they apply, so callers in package actors never need to import this one.
var (
	// ErrConnClosed is the cause of a connection that the bot closed itself
	// (Close). It is always wrapped together with actors.ErrAgentDisconnected.
	ErrConnClosed = errors.New("agent connection closed by the bot")
	// ErrUnsafePath: an AGENT_EVENT_SEND_FILE path points outside the agent's
	// workspace. It is wrapped together with actors.ErrAgentProtocol.
	// It is actors.ErrUnsafePath, so the actors can tell it without this package.
	ErrUnsafePath = actors.ErrUnsafePath
	// ErrBadURL: a base_url that cannot be turned into a WebSocket URL.
	ErrBadURL = errors.New("invalid agent base URL")
	// ErrInvalidRegistry: the registry file failed validation. Every
	// *RegistryError unwraps to it.
	ErrInvalidRegistry = errors.New("invalid agent registry")
)
