// Package storetest holds the contract the backends of persistence share
// beyond actors.Store (whose contract is actortest.RunStoreContract): the
// Matrix side's state, that is the sync position, the handled-event marks
// and the bot-level values. It runs against the Badger store
// (persistence) and the PostgreSQL store (persistence/pgstore), so that
// the bot behaves the same on either; RunStoreBenchmarks measures both on
// the same work.
//
// Concurrency contract: RunStateContract runs its subtests one after the
// other; a subtest may call the store from many goroutines.
package storetest
