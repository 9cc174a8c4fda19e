package persistence

import (
	"testing"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/actortest"
)

// TestStoreContract runs the actors.Store contract, which the in-memory fake
// of actortest also passes, against Badger on disk.
func TestStoreContract(t *testing.T) {
	actortest.RunStoreContract(t, func(t *testing.T) actors.Store {
		s, _ := newTestStore(t)
		return s
	})
}
