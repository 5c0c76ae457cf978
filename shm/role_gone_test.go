package shm

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
)

// TestGoneRacingClaim asks about a role (gone, live.1–4) while another handle
// of the same object, through its own descriptor, claims and releases it
// over and over: every answer must be "alive". A test that finds the lock
// free just before the claimer takes it, then the claimer's fresh token,
// used to call the claimer dead (live.4 asks the lock again).
func TestGoneRacingClaim(t *testing.T) {
	a, err := CreateChannel(testproc.Name(t, "shmtest"), 4096, RemoveOnClose())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !a.txRole.locked() {
		t.Skip("no role locks on this platform: tokens decide, and a live process's token is alive")
	}
	b, err := OpenChannel(a.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var stop atomic.Bool
	done := make(chan int)
	go func() {
		n := 0
		for !stop.Load() {
			if _, err := b.txRole.claim(); err != nil {
				t.Errorf("claim: %v", err)
				break
			}
			b.txRole.release()
			n++
		}
		done <- n
	}()
	asks, deadline := 0, time.Now().Add(2*time.Second)
	for time.Now().Before(deadline) {
		if err := a.txRole.gone(); err != nil {
			t.Errorf("ask %d: a live claimer judged gone: %v", asks, err)
			break
		}
		asks++
	}
	stop.Store(true)
	claims := <-done
	t.Logf("%d asks against %d claims and releases", asks, claims)
}
