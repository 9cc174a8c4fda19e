// Package harness runs the end-to-end world of Surfaces' tests and demo: a real
// Matrix homeserver (Dendrite, built from the pinned module in test/homeserver),
// real Matrix users driven through mautrix, and child processes such as the bot.
//
// # Contract
//
//   - Everything listens on 127.0.0.1, on free ports chosen at run time; nothing
//     needs the network once the Go module cache has the pinned modules.
//   - BuildDendrite builds the Dendrite binaries once per version of
//     test/homeserver/go.sum and caches them under os.UserCacheDir(); concurrent
//     callers (parallel test packages) wait for one build instead of racing.
//   - Every resource has an owner that releases it: Homeserver.Close stops the
//     server and removes its directory, Process.Stop stops a child (SIGTERM,
//     grace period, then SIGKILL of its process group), UserClient.Close stops the
//     sync loop. Tests register these with t.Cleanup.
//   - A context passed to a Start or New function bounds only the start; the
//     started thing lives until it is closed, so a test's cleanup can still run
//     after its context ends.
//   - Progress is logged to the zerolog.Logger carried by the context
//     (zerolog.Ctx); without one, nothing is logged. Tests can use
//     zerolog.New(zerolog.NewTestWriter(t)).WithContext(ctx).
//   - UserClient is an ordinary Matrix client built on mautrix and the
//     client-server API only; it never uses the bot's code, so the tests judge the
//     bot from the outside, as a person in Element would see it.
//   - Waits never sleep-poll: UserClient's sync loop records every event and wakes
//     the waiters, which re-check their predicate over everything seen so far
//     (history included, so an event that arrived before the wait began counts).
//     Every wait ends with the context, so deadlines come from the caller.
//   - A UserClient is unencrypted unless made WithCrypto, which gives it an
//     Olm machine of its own, as Element has.
//   - StartPrometheus runs a real Prometheus (Debian's package; the caller
//     finds the binary, through test/needs) scraping given targets with
//     given rules, scrape and evaluation every second; DashboardQueries,
//     AlertRules and MetricNames read the operators' files in deploy/.
//
// # Dendrite quirks worth knowing (v0.15.2, checked by the tests here)
//
//   - generate-config -ci produces SQLite databases in the data directory,
//     in-memory JetStream, rate limiting off, registration_shared_secret
//     "complement", bcrypt at minimum cost, presence and in-memory full-text
//     search on, server notices on (an @_server user), trace-level logging to
//     stderr, and federation enabled; StartHomeserver rewrites it to disable
//     federation, log at info, allow 100 MiB uploads and use WAL mode.
//   - It is built without cgo (no C compiler needed), so SQLite is the pure-Go
//     modernc driver. Its Commit does not roll back a failed COMMIT, and in
//     SQLite's default rollback-journal mode a COMMIT that waits too long for
//     readers fails and leaves the pooled connection inside a transaction:
//     the next BEGIN on it failed with "cannot start a transaction within a
//     transaction" once mid-test. Dendrite applies no pool limits to SQLite,
//     so StartHomeserver puts every database in WAL mode instead (readers
//     never block a COMMIT there); see sqliteWAL. A Dendrite that panics or
//     exits during a test keeps its directory and log, and Close says so.
//     It listens only on -http-bind-address.
//   - Edits are not aggregated: GET /rooms/{id}/event/{id} and sync return the
//     original content without unsigned m.relations, so clients apply m.replace
//     themselves (Message does); GET /_matrix/client/v1/rooms/{id}/relations/
//     {id}/m.replace lists the edits.
//   - Typing arrives as ephemeral m.typing with the full list of typing users;
//     a stop shows up as an empty list.
//   - The room hierarchy (GET /_matrix/client/v1/rooms/{space}/hierarchy)
//     walks a space for users joined or invited to it, and lists the children
//     the caller is joined or invited to, plus public ones if the caller has
//     joined the space; private rooms the caller is not in stay hidden. An
//     m.space.child with empty content (how a child is removed) hides it.
package harness
