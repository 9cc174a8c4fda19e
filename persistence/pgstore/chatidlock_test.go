package pgstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surfaces-bot/surfaces/persistence/pgstore"
)

// The chat id reservation lock is one across the processes on a database
// (the members of a cluster): a second holder waits until the first
// releases it, gives up when its context ends, and a lock whose function
// failed is released all the same.
func TestChatIDLockIsOneAcrossProcesses(t *testing.T) {
	dsn := newDatabase(t)
	a := openTestStore(t, dsn, pgstore.Options{Shared: true})
	b := openTestStore(t, dsn, pgstore.Options{Shared: true})
	ctx := testContext(t)

	held, release := make(chan struct{}), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce) // a failed test still lets a's connection go
	aDone := make(chan error, 1)
	go func() {
		aDone <- a.WithChatIDLock(ctx, func(context.Context) error {
			close(held)
			<-release
			return errors.New("the reservation failed")
		})
	}()
	<-held

	// b waits, and gives up when its context ends.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	var ran atomic.Bool
	if err := b.WithChatIDLock(short, func(context.Context) error { ran.Store(true); return nil }); err == nil || ran.Load() {
		t.Fatalf("b took the lock while a held it (err %v, ran %v)", err, ran.Load())
	}

	bDone := make(chan error, 1)
	go func() {
		bDone <- b.WithChatIDLock(ctx, func(context.Context) error { ran.Store(true); return nil })
	}()
	select {
	case err := <-bDone:
		t.Fatalf("b took the lock while a held it: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	releaseOnce()
	if err := <-aDone; err == nil || err.Error() != "the reservation failed" {
		t.Fatalf("a's lock returned %v, want its function's error", err)
	}
	select {
	case err := <-bDone:
		if err != nil || !ran.Load() {
			t.Fatalf("b after a released: %v (ran %v)", err, ran.Load())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("b never took the lock a released")
	}
}
