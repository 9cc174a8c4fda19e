// Package persistence is the durable state of Surfaces (PRODUCT R7.1) on an
// embedded Badger database: users, rooms, saved contexts, the
// platform_chat_id sequence, the Matrix sync token, recently handled event
// ids and a few bot-level values. *Store implements actors.Store; the
// matrix/ package adapts the sync methods to mautrix's SyncStore.
//
// Why explicit persistence rather than protoactor's event-sourcing plugin:
// that plugin's provider methods return no errors, and R7 needs every write
// error to reach the actor that made it. The actors therefore call this
// package directly, from goroutines they own.
//
// Concurrency contract: a *Store is safe for concurrent use by any number of
// goroutines. Every method runs in its own Badger transaction, so each
// method is atomic on its own; read-modify-write methods
// (NextPlatformChatID, MarkEventHandled, PutRoom's owner index) retry on
// Badger's optimistic-concurrency conflicts, which makes them linearizable.
// There is no cross-method transaction: callers that need one record to
// follow another (the room actor owning its room record) serialise through
// the actor that owns the record. Close waits for the methods in flight and
// makes every later call fail with ErrClosed. Methods honour ctx before they
// start and between conflict retries; a Badger commit itself is not
// interruptible.
//
// Durability: the database is opened with SyncWrites, so a method that
// returned nil has its write fsynced. A handled-event mark or a sequence
// value that was handed out must survive a crash (otherwise an event could
// be handled twice or a platform_chat_id reused); the cost is one fsync per
// write, which is small next to a Matrix or agent round trip.
package persistence
