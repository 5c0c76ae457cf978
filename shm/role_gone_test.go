package shm

import (
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
)

// TestGoneRacingClaim asks about a role (gone, live.1–4) while another
// handle of the same object, through its own descriptor, claims it for the
// first time: every answer must be "alive". A test that found the lock free
// just before the claimer took it, then read the claimer's fresh token,
// used to call the claimer dead; live.4 asks the lock again. Each round is a
// new channel, because a channel's role is claimed once: its release comes
// with its close, and a closed role is never claimed again (so no holder
// can release and re-claim it under the same token between two of the
// asker's steps, which live.4 could not tell from a death).
func TestGoneRacingClaim(t *testing.T) {
	rounds, asks, deadline := 0, 0, time.Now().Add(2*time.Second)
	for time.Now().Before(deadline) {
		a, err := CreateChannel(testproc.Name(t, "shmtest"), 4096, RemoveOnClose())
		if err != nil {
			t.Fatal(err)
		}
		if !a.txRole.locked() {
			a.Close()
			t.Skip("no role locks on this platform: tokens decide, and a live process's token is alive")
		}
		b, err := OpenChannel(a.Name())
		if err != nil {
			a.Close()
			t.Fatal(err)
		}
		claimed := make(chan error, 1)
		go func() {
			_, err := b.txRole.claim()
			claimed <- err
		}()
		var gone error
	ask:
		for {
			select {
			case err := <-claimed:
				if err != nil {
					t.Errorf("claim: %v", err)
				}
				break ask
			default:
			}
			if gone = a.txRole.gone(); gone != nil {
				<-claimed
				break
			}
			asks++
		}
		b.txRole.release()
		b.Close()
		a.Close()
		if gone != nil {
			t.Fatalf("round %d, ask %d: a live claimer judged gone: %v", rounds, asks, gone)
		}
		rounds++
	}
	t.Logf("%d asks in %d rounds, each racing a first claim", asks, rounds)
}
