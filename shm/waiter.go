package shm

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmchan/shmchan/internal/proc"
	"github.com/shmchan/shmchan/sync/wake"
)

// Timing of the wait strategies and of peer-death detection.
const (
	spinFor      = 20 * time.Microsecond  // Adaptive: spin this long...
	yieldFor     = 100 * time.Microsecond // ...then yield until this long...
	spinYield    = 50 * time.Microsecond  // Spin: after this long, yield the CPU every checkEvery spins
	maxSleep     = 50 * time.Millisecond  // ...then park, waking at least this often
	livenessTick = 50 * time.Millisecond  // check the peer's token this often while waiting
	checkEvery   = 64                     // spins between clock reads
)

// waiter is the sleeping half of one side of a channel: the side's own wait
// word and parked flag, and the peer's owner token and closed flag. The ring
// code never sees it; the Sender and Receiver retry their non-blocking ring
// operation around waiter.pause.
type waiter struct {
	strategy   WaitStrategy
	word       *wake.Word // our futex word's wait/wake point
	seq        *uint32    // our futex word: data_seq or space_seq
	parked     *uint32    // our parked flag: rx_parked or tx_parked
	peer       *uint64    // the peer's owner token: tx_owner or rx_owner
	peerClosed *uint32    // the peer's closed flag

	// State of one blocking call, reset by start.
	spins     int
	began     time.Time
	lastCheck time.Time
	armed     bool   // parked flag set, seq loaded: the next pause sleeps
	armedSeq  uint32 // the seq value loaded before arming
	cancel    *cancelWake
}

// start begins a blocking call.
func (w *waiter) start() {
	w.spins, w.armed = 0, false
	w.began, w.lastCheck = time.Time{}, time.Time{}
	w.cancel = nil
}

// finish ends a blocking call: it clears the parked flag if set and drops
// the context hook.
func (w *waiter) finish() {
	if w.armed {
		// SYNC(rx_parked)/SYNC(tx_parked): seq_cst; pairs with the load in the peer's notify.
		atomic.StoreUint32(w.parked, 0)
		w.armed = false
	}
	if w.cancel != nil {
		w.cancel.stop()
		w.cancel = nil
	}
}

// pause waits a little for the peer after the caller's operation found the
// ring full or empty. The caller retries its operation after pause returns
// nil. pause returns an error when ctx is done, or when the peer died.
//
// Parking follows docs/layout.md: load our seq, set our parked flag, and
// return so that the caller re-checks the ring (that re-check is the second
// half of the store-then-load handshake with the peer's notify); only the
// next pause, if the ring is still not ready, sleeps while seq is unchanged.
func (w *waiter) pause(ctx context.Context) error {
	w.spins++
	if w.spins%checkEvery != 1 && !w.armed && w.strategy != Block {
		return nil // cheap spin: retry at once
	}
	now := time.Now()
	if w.began.IsZero() {
		w.began, w.lastCheck = now, now
	}
	if err := w.check(ctx, now); err != nil {
		return err
	}
	waited := now.Sub(w.began)
	switch {
	case w.strategy == Spin:
		// Never sleep, but let the peer run if it shares our core: on a
		// machine with more busy threads than cores, a pure spin would burn
		// whole time slices while the peer waits for one.
		if waited >= spinYield {
			osYield()
		}
		return nil
	case w.strategy == Adaptive && waited < spinFor:
		return nil
	case w.strategy == Adaptive && waited < yieldFor:
		osYield()
		return nil
	}
	if !w.armed {
		if done := ctx.Done(); done != nil && w.cancel == nil {
			// Wake ourselves when ctx is cancelled: a cancel without a
			// deadline would otherwise wait for the next maxSleep tick.
			seq, word := w.seq, w.word
			w.cancel = onCancel(ctx, func() {
				// SYNC(data_seq)/SYNC(space_seq): bump so that our futex wait returns.
				atomic.AddUint32(seq, 1)
				word.Wake()
			})
		}
		// SYNC(data_seq)/SYNC(space_seq): acquire; loaded before the parked
		// flag is set, so that a bump after the re-check makes the sleep return.
		w.armedSeq = atomic.LoadUint32(w.seq)
		// SYNC(rx_parked)/SYNC(tx_parked): seq_cst store, then the caller's
		// re-check loads the record header (receiver) or head (sender):
		// pairs with the peer's header or head store then parked load in
		// notify (Dekker).
		atomic.StoreUint32(w.parked, 1)
		w.armed = true
		return nil
	}
	timeout := maxSleep
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	err := w.word.Wait(w.armedSeq, timeout)
	// SYNC(rx_parked)/SYNC(tx_parked): seq_cst; pairs with the load in the peer's notify.
	atomic.StoreUint32(w.parked, 0)
	w.armed = false
	if err != nil {
		return err
	}
	return w.check(ctx, time.Now())
}

// check returns an error if ctx is done or, at most every livenessTick, if
// the peer's process is dead.
func (w *waiter) check(ctx context.Context, now time.Time) error {
	if err := ctx.Err(); err != nil {
		if _, ok := ctx.Deadline(); ok && err == context.DeadlineExceeded {
			return fmt.Errorf("%w (%w)", os.ErrDeadlineExceeded, err)
		}
		return err
	}
	if now.Sub(w.lastCheck) < livenessTick {
		return nil
	}
	w.lastCheck = now
	if !w.peerAlive() {
		return ErrPeerGone
	}
	return nil
}

// peerAlive reports false only when a peer holds the role, has not closed,
// and its process is dead. No peer yet counts as alive: one may come.
func (w *waiter) peerAlive() bool {
	// SYNC(tx_owner)/SYNC(rx_owner): acquire; pairs with the peer's claim CAS.
	tok := atomic.LoadUint64(w.peer)
	if tok == 0 {
		return true
	}
	if !proc.Alive(proc.Token(tok)) {
		// SYNC(tx_closed)/SYNC(rx_closed): a peer that closed cleanly is not "gone".
		return atomic.LoadUint32(w.peerClosed) != 0
	}
	return true
}

// notify wakes the peer if it is parked on its word: the only system call on
// the data path, made only when the peer sleeps.
func notify(parked, seq *uint32, word *wake.Word) {
	// SYNC(rx_parked)/SYNC(tx_parked): seq_cst load after our seq_cst record
	// header (sender) or head (receiver) store; pairs with the peer's parked
	// store then header or head load in pause.
	if atomic.LoadUint32(parked) != 0 {
		// SYNC(data_seq)/SYNC(space_seq): bump before waking, so that a peer
		// between its seq load and its futex wait does not sleep.
		atomic.AddUint32(seq, 1)
		word.Wake()
	}
}

// cancelWake runs a wakeup when a context is cancelled, and never after stop
// returns: a blocking call that returns may be followed at once by Close,
// which unmaps the memory the wakeup touches.
type cancelWake struct {
	mu       sync.Mutex
	done     bool        // stop was called: the mapping may be gone
	stopFunc func() bool // from context.AfterFunc
}

// onCancel arranges for wake to run when ctx is cancelled, until stop.
func onCancel(ctx context.Context, wake func()) *cancelWake {
	c := &cancelWake{}
	c.stopFunc = context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.done {
			wake()
		}
	})
	return c
}

// stop makes sure the wakeup never runs after it returns: if the callback
// has started, stop waits for it to finish or makes it do nothing.
func (c *cancelWake) stop() {
	if c.stopFunc() {
		return // the callback will never run
	}
	c.mu.Lock()
	c.done = true
	c.mu.Unlock()
}
