package pgstore_test

import (
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
	"github.com/surfaces-bot/surfaces/persistence/storetest"
)

// TestStoreContract runs the actors.Store contract, which Badger and the
// in-memory fake pass, against a real PostgreSQL.
func TestStoreContract(t *testing.T) {
	actortest.RunStoreContract(t, func(t *testing.T) actors.Store {
		s, _ := newTestStore(t)
		return s
	})
}

// TestStateContract runs the Matrix side's contract, which Badger passes,
// against a real PostgreSQL.
func TestStateContract(t *testing.T) {
	storetest.RunStateContract(t, func(t *testing.T) storetest.State {
		s, _ := newTestStore(t)
		return s
	})
}
