// Package agents is the bot's side of the agent WebSocket protocol
// (docs/agent-protocol.md) and the agent registry (PRODUCT R5.1).
//
// It implements three ports of package actors:
//
//   - Dialer (actors.AgentDialer) opens one WebSocket per room and waits for
//     the agent's STATUS frame;
//   - Conn (actors.AgentConn) runs the turns of that connection, one at a
//     time, and turns the agent's frames into actors.AgentEvent values;
//   - Registry (actors.Registry) maps Matrix users to agents, loaded and
//     validated from the seed's YAML format.
//
// Concurrency contract:
//
//   - A Dialer is immutable after NewDialer and safe for concurrent use.
//   - A Conn is safe for concurrent use. It owns three goroutines (read, write,
//     ping) joined by one context.WithCancelCause: when any of them ends, all
//     end, the socket is closed, Done is closed and Err returns the cause.
//     Nothing the caller does can block those goroutines forever: event
//     delivery selects on the turn's context and on the connection's end.
//   - Turn returns a channel that the caller drains until it is closed. It
//     carries progress events, then exactly one terminal event (AgentEnd or
//     AgentFailed). A turn that fails by timeout, cancellation, protocol
//     violation or a dropped socket also ends the connection: the next turn
//     dials again. ERROR from the agent ends the turn but keeps the socket.
//   - A Registry is safe for concurrent use; its data is an immutable
//     Snapshot behind an atomic pointer, swapped whole by Replace or Reload.
//
// The frame structs and the decoder are shared with the reference agent
// (package agents/refagent) so that both ends speak exactly the same wire.
package agents
