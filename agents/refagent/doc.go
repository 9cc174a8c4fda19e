// Package refagent is the reference agent (PRODUCT R9): an HTTP server that
// speaks docs/agent-protocol.md for tests, demos and the fullstack compose.
//
// Like the platform's proxy, one server serves several agents on one port,
// each under its own path prefix (/agent_0/v1/agent_ws/{chat_id}/, ...) and
// each with its own workspace directory. On connect an agent sends STATUS,
// then serves turns in one of three modes: echo (with test triggers such as
// /error, /slow, /file and /confirm), scripted (a YAML or JSON file of
// frames per trigger text, able to send garbage, hang or drop), and openai
// (streams from an OpenAI-compatible chat completions endpoint).
//
// Concurrency contract: a Server is safe for concurrent use. Each WebSocket
// connection is served by one goroutine that reads frames and at most one
// turn goroutine that writes them; both end when the connection ends or the
// server is closed. Close waits for all of them. Received may be called at
// any time from any goroutine.
package refagent
