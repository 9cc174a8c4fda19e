// Package pgstore is the durable state of Surfaces on PostgreSQL, the
// backend chosen with persistence.backend: postgres. It holds what
// persistence (Badger) holds: users, rooms, saved contexts, the
// platform_chat_id sequence, the Matrix sync position, recently handled
// event ids and a few bot-level values. *Store implements actors.Store and
// matrix.StateStore, and passes actortest.RunStoreContract unchanged.
//
// It exists for more than one process: members of a cluster share one
// database, so everything a value's uniqueness rests on is decided by
// PostgreSQL, never by a process's memory. The platform_chat_id is a
// database sequence, whose values are never handed out twice (nextval is
// not rolled back, and its WAL record is flushed with the commit); a
// handled-event mark is an INSERT … ON CONFLICT, so of two members that see
// one event exactly one handles it; a room's fencing epoch is a column that
// ActivateRoom raises and PutRoom compares in the statement that writes, so
// an activation that another replaced cannot write.
//
// Records are stored as the same versioned JSON the Badger store writes
// (one version column and a json column per row), beside the few columns
// that are queried (owner and chat index, the saved-at instant), so that a
// record keeps nanosecond instants and any text a user typed, NUL included.
// Text columns that are sorted on use the "C" collation: byte order, as
// Badger's, whatever locale the database was created with.
//
// The schema is versioned: Open applies the migrations the database lacks,
// in order, under an advisory lock (members starting together migrate
// once), and refuses a database whose schema is newer than the binary.
//
// The members of a cluster share the database (Store.Join, members.go):
// each holds session advisory locks on a connection of its own, for its id
// and, on one member at a time, for the ingress; PostgreSQL releases them
// when the session ends, however its process ended, which is what lets a
// standing-by member take the ingress over.
//
// Concurrency contract: a *Store is safe for concurrent use by any number of
// goroutines (and processes). Each method is one statement or one
// transaction on a connection of its pool, so each is atomic on its own;
// there is no cross-method transaction, as with Badger. Methods honour ctx
// (a cancelled query is cancelled on the server too). Close stops the
// expiry of old event marks, waits for the methods in flight and makes
// every later call fail with persistence.ErrClosed.
package pgstore
