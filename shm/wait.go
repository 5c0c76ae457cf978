package shm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/internal/platform"
	"github.com/shmchan/shmchan/sync/wake"
)

// The wait engine: how every blocking call of this package (Sender's Send
// and Reserve, Receiver's Recv and Peek, Mailbox's WaitNewer) waits for its
// peer, and how every opener waits for a creator. docs/design.md ("Waits")
// has the same schedule as a table.

// WaitStrategy says how a blocking channel or mailbox call waits for its peer.
// Each strategy means the same for every call that takes one.
type WaitStrategy int

const (
	// Adaptive spins for 20 µs, then yields the processor until 100 µs,
	// then parks on the shared wait word. It is the default: it is nearly as
	// fast as Spin when both sides are busy and costs nearly nothing when
	// they are idle.
	Adaptive WaitStrategy = iota
	// Spin polls shared memory without ever sleeping: the lowest latency,
	// at the cost of a whole core while it waits. After 50 µs without
	// progress it also yields the processor between polls (sched_yield on
	// Linux), so that a peer sharing its core still runs.
	Spin
	// Block parks on the shared wait word (a futex on Linux) after a brief
	// re-poll (blockPolls tries, about a microsecond), so that a receiver
	// that has caught up with a busy sender, or a sender with a busy
	// receiver, does not park, and cost its peer a wake, for each message.
	Block
)

// String returns "adaptive", "spin" or "block".
func (w WaitStrategy) String() string {
	switch w {
	case Adaptive:
		return "adaptive"
	case Spin:
		return "spin"
	case Block:
		return "block"
	}
	return "WaitStrategy(?)"
}

// WithWait selects the wait strategy of a channel or mailbox end. The
// default is Adaptive.
func WithWait(w WaitStrategy) Option {
	return func(o *options) { o.wait = w }
}

// The schedule of a wait, from the call's first failed try.
const (
	checkEvery   = 64                     // spins between clock reads (each strategy)
	blockPolls   = 64                     // Block: tries before a park is announced
	spinFor      = 20 * time.Microsecond  // Adaptive: spin this long...
	yieldFor     = 100 * time.Microsecond // ...then yield until this long, then park
	spinYield    = 50 * time.Microsecond  // Spin: from here on, yield at every clock read
	maxSleep     = 50 * time.Millisecond  // a park wakes at least this often
	livenessTick = 50 * time.Millisecond  // check the peer's process this often, from the call's start
)

// The open back-off: an opener that finds a creator still setting up (a
// segment of size 0, no version stored) polls again after a sleep that
// doubles from openPollFirst to openPollMax, until the open timeout.
const (
	openPollFirst = 20 * time.Microsecond
	openPollMax   = 5 * time.Millisecond
)

// errOpenTimeout is openBackoff's answer when the timeout passed; callers
// turn it into ErrNotReady with what they waited for.
var errOpenTimeout = errors.New("shm: open timeout")

// openBackoff calls try until it reports done, sleeping with the open
// back-off between calls, and returns try's error, or errOpenTimeout once
// timeout has passed since the first call.
func openBackoff(timeout time.Duration, try func() (done bool, err error)) error {
	deadline := time.Now().Add(timeout)
	for delay := openPollFirst; ; delay = min(2*delay, openPollMax) {
		if done, err := try(); done || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errOpenTimeout
		}
		time.Sleep(delay)
	}
}

// waiter is the sleeping half of one blocking call: the schedule above, the
// deadline, the peer's liveness, and parking on a wait word. The ring and
// the seqlock never see it: the caller retries its non-blocking operation
// around pause, as go-diodes' Waiter does.
//
// Parking is the same store-then-load handshake for a channel and a
// mailbox (docs/layout.md): load the wait word, announce the park (set the
// side's parked flag, or add one to the mailbox's waiter count), and return,
// so that the caller tries again (that retry is the second half of the
// handshake with the peer's notify); only the next pause, if the retry still
// failed, sleeps while the word is unchanged, and then withdraws the
// announcement.
type waiter struct {
	strategy WaitStrategy
	word     *wake.Word // the wait/wake point on seq
	seq      *uint32    // the wait word: data_seq, space_seq or mb_wake_seq
	parked   *uint32    // the announcement: rx_parked, tx_parked or mb_waiters
	count    bool       // parked is a count (mb_waiters), not a flag

	peer *role // the peer's role (role.go): asked whether its holder is gone

	// parks counts the sleeps on word (an end's Stats.Parks); nil for a
	// mailbox reader, which has no counter line.
	parks *uint64

	// State of one blocking call, reset by start.
	spins     int
	began     time.Time
	lastCheck time.Time
	armed     bool   // park announced, seq loaded: the next pause sleeps
	armedSeq  uint32 // the seq value loaded before announcing
	cancel    *cancelWake
}

// start begins a blocking call.
func (w *waiter) start() {
	w.spins, w.armed = 0, false
	w.began, w.lastCheck = time.Time{}, time.Time{}
	w.cancel = nil
}

// finish ends a blocking call: it withdraws a park announcement and drops
// the context hook.
func (w *waiter) finish() {
	w.disarm()
	if w.cancel != nil {
		w.cancel.stop()
		w.cancel = nil
	}
}

// pause waits a little for the peer after the caller's try failed (ring
// full or empty, no newer version). The caller tries again after pause
// returns nil. pause returns an error when ctx is done (matching
// os.ErrDeadlineExceeded as well for an expired deadline), when the peer's
// process died (matching ErrPeerGone), or when the OS wait fails.
func (w *waiter) pause(ctx context.Context) error {
	w.spins++
	if !w.armed && w.quickRetry() {
		return nil
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
			platform.Yield()
		}
		return nil
	case w.strategy == Adaptive && waited < spinFor:
		return nil
	case w.strategy == Adaptive && waited < yieldFor:
		platform.Yield()
		return nil
	}
	if !w.armed {
		if done := ctx.Done(); done != nil && w.cancel == nil {
			// Wake ourselves when ctx is cancelled: a cancel without a
			// deadline would otherwise wait for the next maxSleep tick.
			seq, word := w.seq, w.word
			w.cancel = onCancel(ctx, func() { bump(seq, word) })
		}
		// STEP(park.1) STEP(mbwait.1) SYNC(data_seq)/SYNC(space_seq)/SYNC(mb_wake_seq): acquire; loaded
		// before the park is announced, so that a bump after the caller's
		// retry makes the sleep return at once.
		w.armedSeq = atomic.LoadUint32(w.seq)
		// STEP(park.2) STEP(mbwait.2) SYNC(rx_parked)/SYNC(tx_parked)/SYNC(mb_waiters): seq_cst store
		// (or increment), then the caller's retry loads the record header
		// (receiver), head (sender) or latest (mailbox reader): pairs with
		// the peer's store of those then its load of the announcement in
		// notify (Dekker).
		if w.count {
			atomic.AddUint32(w.parked, 1)
		} else {
			atomic.StoreUint32(w.parked, 1)
		}
		w.armed = true
		return nil
	}
	timeout := maxSleep
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	// STEP(park.4) STEP(mbwait.4)
	if w.parks != nil {
		count(w.parks, 1)
	}
	err := w.word.Wait(w.armedSeq, timeout)
	w.disarm()
	if err != nil {
		return err
	}
	return w.check(ctx, time.Now())
}

// quickRetry says whether this attempt retries at once, without reading the
// clock: a cheap spin between clock reads, or one of Block's re-polls
// before it announces a park. C's quick_retry is the same.
func (w *waiter) quickRetry() bool {
	if w.strategy == Block {
		return w.spins < blockPolls
	}
	return w.spins%checkEvery != 1
}

// disarm withdraws the park announcement, if made.
func (w *waiter) disarm() {
	if !w.armed {
		return
	}
	// STEP(park.5) STEP(mbwait.5) SYNC(rx_parked)/SYNC(tx_parked)/SYNC(mb_waiters):
	// seq_cst; pairs with the load in the peer's notify.
	if w.count {
		atomic.AddUint32(w.parked, ^uint32(0))
	} else {
		atomic.StoreUint32(w.parked, 0)
	}
	w.armed = false
}

// check returns ctx's error if ctx is done (matching os.ErrDeadlineExceeded
// as well for an expired deadline) or, once the call has waited
// livenessTick and then at most every livenessTick, an error matching
// ErrPeerGone if the peer's process is dead.
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
	return w.peer.gone()
}

// notify wakes the channel peer if it announced a park on its word: the
// only system call on the data path, made only when the peer sleeps. parked
// is the peer's flag (rx_parked or tx_parked); a wake is counted in st.
//
// It takes the announcement down itself (a swap to 0) before it wakes, so
// that a peer is woken once per park: with a plain load, every message
// published while the woken peer was still on its way back to the CPU (its
// own store of 0 comes only then) cost another futex wake, about ten per
// park with a receiver that keeps up with its sender (docs/design.md,
// "Waits").
func notify(parked, seq *uint32, word *wake.Word, st *layout.Stats) {
	// STEP(notify.1) SYNC(rx_parked)/SYNC(tx_parked): seq_cst load after our
	// seq_cst store of the record header (sender) or head (receiver); pairs
	// with the peer's announcement then retry in pause. Found set, the swap
	// (seq_cst) claims the wake: 0 means the peer has withdrawn it, awake.
	if atomic.LoadUint32(parked) != 0 {
		wakeParked(parked, seq, word, st)
	}
}

// wakeParked is notify's slow path, out of line so that notify, one load
// and a branch when the peer is awake, inlines into every send and release.
//
//go:noinline
func wakeParked(parked, seq *uint32, word *wake.Word, st *layout.Stats) {
	// STEP(notify.1) SYNC(rx_parked)/SYNC(tx_parked): seq_cst swap; 0 means
	// the peer withdrew its announcement since our load: it is awake.
	if atomic.SwapUint32(parked, 0) != 0 {
		bump(seq, word)
		count(&st.Wakes, 1)
	}
}

// notifyWaiters is notify for the mailbox, whose announcement is a count of
// readers (mb_waiters) that each withdraw their own: it wakes them all and
// leaves the count alone.
func notifyWaiters(waiters, seq *uint32, word *wake.Word, st *layout.Stats) {
	// STEP(notify.1) STEP(publish.6) SYNC(mb_waiters): seq_cst load after our
	// seq_cst store of latest; pairs with the readers' increment then retry
	// in pause.
	if n := atomic.LoadUint32(waiters); n != 0 {
		bumpN(seq, word, int(n))
		count(&st.Wakes, 1)
	}
}

// bump changes the wait word and wakes every sleeper on it.
func bump(seq *uint32, word *wake.Word) { bumpN(seq, word, 1) }

// bumpN is bump for a word that n sleepers are known to park on (the
// mailbox's waiter count): on Windows, where a wake releases a counted
// number of sleepers, all n wake.
func bumpN(seq *uint32, word *wake.Word, n int) {
	// STEP(notify.2) SYNC(data_seq)/SYNC(space_seq)/SYNC(mb_wake_seq): bump before waking,
	// so that a sleeper between its load and its wait does not sleep.
	atomic.AddUint32(seq, 1)
	// STEP(notify.3)
	_ = word.WakeN(n) // a failed wake leaves the sleeper to its maxSleep tick
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
