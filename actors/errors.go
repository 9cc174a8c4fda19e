package actors

import "errors"

// Sentinel errors shared by the actor tree and the packages that implement its
// ports. Implementations wrap them (fmt.Errorf("...: %w", ErrX)) so that the
// actors can pick the plain-words notice a user sees with errors.Is.
var (
	// ErrNotFound is returned by a Store when a record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidRecord is returned by a Store when a write is refused
	// because the record lacks its identity or holds an impossible value.
	ErrInvalidRecord = errors.New("invalid record")
	// ErrStaleEpoch is returned by Store.PutRoom for a record written by
	// an activation that another has replaced (RoomRecord.Epoch).
	ErrStaleEpoch = errors.New("the room was activated again elsewhere (stale epoch)")

	// ErrAgentUnavailable: the agent could not be reached (dial failed,
	// upgrade refused) or did not send STATUS in time.
	ErrAgentUnavailable = errors.New("agent unavailable")
	// ErrAgentTimeout: the agent went silent for turn_idle_timeout during a turn.
	ErrAgentTimeout = errors.New("agent timed out")
	// ErrAgentProtocol: the agent broke the wire protocol (malformed JSON, a
	// frame without type, a binary frame).
	ErrAgentProtocol = errors.New("agent protocol error")
	// ErrAgentDisconnected: the connection dropped during a turn.
	ErrAgentDisconnected = errors.New("agent connection lost")
	// ErrAgentReported: the agent sent an ERROR frame.
	ErrAgentReported = errors.New("agent reported an error")
	// ErrTurnRunning: a second turn was started on a connection whose turn has not ended.
	ErrTurnRunning = errors.New("a turn is already running on this connection")

	// ErrStopped: the user stopped the turn (!stop); TurnEnded carries it.
	ErrStopped = errors.New("stopped by the user")
	// ErrTurnCut: the room actor stopped while its turn ran (shutdown past
	// its grace, or its user actor restarting); TurnEnded carries it.
	ErrTurnCut = errors.New("turn cut off by a stop")

	// ErrAccessDenied: the access policy refuses this user (PRODUCT R5.2, R6.1).
	ErrAccessDenied = errors.New("access denied")
	// ErrUnknownAgent: an agent id that the registry does not know.
	ErrUnknownAgent = errors.New("unknown agent")
	// ErrUnsafePath: a file path that leaves the agent's workspace (.., an
	// absolute path elsewhere, a symlink pointing out).
	ErrUnsafePath = errors.New("path outside the agent workspace")
	// ErrFileTooLarge: a file over workspace.max_file_size, either way.
	ErrFileTooLarge = errors.New("file too large")
	// ErrStagedQuota: a file that would take its user's files waiting for
	// the agent past Options.MaxStagedBytes.
	ErrStagedQuota = errors.New("staged files quota exceeded")
)
