package shm_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shmchan/shmchan/shm"
)

// TestMailboxWakesAllReaders: three readers parked in WaitNewer, each on
// its own handle, all return within a few milliseconds of one publish. On
// Windows the wait word used to be an auto-reset event, which releases one
// sleeper per wake: two of the three slept out their 50 ms tick. It is now a
// semaphore that the writer releases once per parked reader.
func TestMailboxWakesAllReaders(t *testing.T) {
	w := newMailbox(t, 64, shm.WithWait(shm.Block))
	const readers = 3
	var wg sync.WaitGroup
	woke := make([]time.Time, readers)
	errs := make([]error, readers)
	for i := range readers {
		r := openMailbox(t, w.Name(), shm.WithWait(shm.Block))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = r.WaitNewer(context.Background(), 0, make([]byte, 64))
			woke[i] = time.Now()
		}()
	}
	// All three park (Block parks at once) and wake every 50 ms (the wait
	// tick) from their start: publish half-way between two ticks, so that a
	// reader the wake missed shows as about 25 ms late, not by luck as 0.
	time.Sleep(225 * time.Millisecond)
	published := time.Now()
	if _, err := w.Publish([]byte("v1")); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	var worst time.Duration
	for i := range readers {
		if errs[i] != nil {
			t.Fatalf("reader %d: %v", i, errs[i])
		}
		d := woke[i].Sub(published)
		t.Logf("reader %d returned %v after the publish", i, d)
		worst = max(worst, d)
	}
	if worst > 15*time.Millisecond {
		t.Errorf("the slowest of %d parked readers returned %v after the publish; want a few ms (the wait tick is 50 ms)", readers, worst)
	}
}
