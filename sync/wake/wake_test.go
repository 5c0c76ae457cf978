package wake

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// These tests hold on every OS. Two Words opened with the same address and
// name stand for the two processes: on Windows each has its own handle to
// the named event, exactly as two processes would.

var testSeq atomic.Uint32

// openPair opens two Words on addr under a name unique to this process and
// test, and closes them when the test ends.
func openPair(t *testing.T, addr *uint32) (*Word, *Word) {
	t.Helper()
	name := fmt.Sprintf("waketest-%d-%d", os.Getpid(), testSeq.Add(1))
	var ws [2]*Word
	for i := range ws {
		w, err := Open(addr, name)
		if err != nil {
			t.Fatalf("Open(%q): %v", name, err)
		}
		t.Cleanup(func() {
			if err := w.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		ws[i] = w
	}
	return ws[0], ws[1]
}

func TestWaitValueChanged(t *testing.T) {
	word := uint32(1)
	w, _ := openPair(t, &word)
	start := time.Now()
	if err := w.Wait(0, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Wait on a word that does not hold the value slept %v", el)
	}
}

func TestWaitZeroTimeout(t *testing.T) {
	var word uint32
	w, _ := openPair(t, &word)
	start := time.Now()
	if err := w.Wait(0, 0); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Wait with timeout 0 slept %v", el)
	}
}

// TestWaitSleeps: without a wake, Wait sleeps until its timeout. Spurious
// wakeups are allowed, so the test only requires that a handful of calls
// cover the time, not that each one does.
func TestWaitSleeps(t *testing.T) {
	var word uint32
	w, _ := openPair(t, &word)
	const d = 30 * time.Millisecond
	start := time.Now()
	calls := 0
	for time.Since(start) < d {
		if err := w.Wait(0, d); err != nil {
			t.Fatal(err)
		}
		if calls++; calls > 20 {
			t.Fatalf("%d Wait(0, %v) calls returned within %v: Wait does not sleep", calls, d, time.Since(start))
		}
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("Wait(0, %v) slept %v", d, el)
	}
}

// TestWakeWakesWaiter: a waiter sleeping with a long timeout returns soon
// after the other side increments the word and calls Wake.
func TestWakeWakesWaiter(t *testing.T) {
	for i := 0; i < 20; i++ {
		var word uint32
		waiter, waker := openPair(t, &word)
		done := make(chan time.Duration, 1)
		go func() {
			start := time.Now()
			// SYNC(wake-word): acquire; pairs with the increment below.
			for atomic.LoadUint32(&word) == 0 {
				if err := waiter.Wait(0, 20*time.Second); err != nil {
					t.Error(err)
					break
				}
			}
			done <- time.Since(start)
		}()
		time.Sleep(time.Duration(i%4) * 5 * time.Millisecond) // sometimes before the waiter sleeps, sometimes after
		// SYNC(wake-word): release; pairs with the waiter's load.
		atomic.AddUint32(&word, 1)
		if err := waker.Wake(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the waiter did not return 10 s after Wake", i)
		}
	}
}
