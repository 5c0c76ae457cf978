package shm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmchan/shmchan/sync/wake"
)

// The poller: waiting without an OS thread per parked end.
//
// A goroutine blocked in a futex system call holds its OS thread, so a
// thousand connections whose readers park one by one would hold a thousand
// threads. Instead, a parked end of this package (a Conn's Read or Write, an
// Accept, a Dial waiting for its accept, WaitAny) registers its futex word
// and the value it saw with the process's poller and blocks on a Go channel.
// On Linux the poller's waiting threads sleep in futex_waitv(2), each on up to
// 127 registered words plus its own control word; a peer's ordinary
// FUTEX_WAKE on any of them (the one it makes anyway when it finds the end
// parked) wakes the thread, which hands the wakeup to the goroutine. Idle
// ends therefore cost ceil(n/127) threads, and the data path is unchanged:
// no system call unless the peer is parked, and the layout of channels is
// untouched (a C peer needs nothing new).
//
// A sweeper goroutine checks, every pollLiveEvery, that the processes on the
// other side of the registered words are alive (one cached lock test per
// peer role, see netlive.go), and wakes the ends whose peer died, so an idle
// connection whose peer was killed gets ErrPeerGone without a thread of its
// own. The waiting threads have no timeout: idle, they never wake.
//
// Where futex_waitv does not exist (other OSes, Linux before 5.16) each wait
// falls back to parking its own goroutine on the word (a thread per parked
// end, as Sender.Send does), in slices of pollTick.

// pollLiveEvery is how often the poller checks the peers of parked ends
// (so a parked end learns of its peer's death within about this long), and
// pollTick how often a listener's Accept reaps the slots of dead clients and
// a fallback wait re-checks its word.
const (
	pollLiveEvery = 500 * time.Millisecond
	pollTick      = 500 * time.Millisecond
)

// waitPoint is one parking place in shared memory: a futex word, the
// parked flag that tells the peer to wake it (nil: the peer always wakes),
// the wait/wake object of the word (for the fallback), and the peer's role
// for liveness (peer nil: no liveness check).
type waitPoint struct {
	seq    *uint32
	parked *uint32
	word   *wake.Word
	peer   *peerRole
}

// recvPoint and sendPoint are where a channel end parks. They are the only
// place the poller reaches into a channel's header and wait words.
// The peer is the channel's other role, asked through its lock (role.gone).
func recvPoint(r *Receiver) waitPoint {
	return waitPoint{seq: &r.h.DataSeq, parked: &r.h.RxParked, word: r.ch.dataWord, peer: newPeerRole(&r.ch.txRole)}
}

func sendPoint(s *Sender) waitPoint {
	return waitPoint{seq: &s.h.SpaceSeq, parked: &s.h.TxParked, word: s.ch.spaceWord, peer: newPeerRole(&s.ch.rxRole)}
}

// Why a park ended.
const (
	parkWoken    = iota // a registered word changed (or a spurious wakeup): re-check
	parkPeerGone        // the peer of a registered word died
	parkStopped         // one of the stop channels fired
)

// notifier is the rendezvous of one blocked goroutine with the poller.
type notifier struct {
	c    chan struct{} // buffered 1: a wakeup is never lost, never blocks the poller
	gone atomic.Bool   // set before c when the reason is a dead peer
}

// pollEntry is one registered word of one wait.
type pollEntry struct {
	p   waitPoint
	val uint32
	n   *notifier
	g   *pollGroup // the group it was added to (Linux poller); set once, by the registering goroutine
	idx int        // position in g.entries, -1 once removed; guarded by g.mu
}

var errTimeout = os.ErrDeadlineExceeded

// park blocks until one of the points' words differs from its value in vals,
// a peer dies, or stop1 or stop2 (either may be nil) fires. Spurious wakeups
// are allowed: the caller re-checks its condition.
func park(points []waitPoint, vals []uint32, stop1, stop2 <-chan struct{}) int {
	n := &notifier{c: make(chan struct{}, 1)}
	entries := make([]pollEntry, len(points))
	for i := range points {
		entries[i] = pollEntry{p: points[i], val: vals[i], n: n, idx: -1}
	}
	if !register(entries) {
		return parkFallback(entries, stop1, stop2)
	}
	why := parkStopped
	select {
	case <-n.c:
		why = parkWoken
	case <-stop1:
	case <-stop2:
	}
	unregister(entries)
	if n.gone.Load() {
		return parkPeerGone
	}
	return why
}

// parkFallback parks the calling goroutine itself on each word in turn, in
// slices, where the OS has no multi-word wait.
func parkFallback(entries []pollEntry, stop1, stop2 <-chan struct{}) int {
	slice := pollTick
	if len(entries) > 1 {
		slice = time.Millisecond // several words: poll them round-robin
	}
	lastLive := time.Now()
	for {
		for i := range entries {
			e := &entries[i]
			// SYNC(data_seq)/SYNC(space_seq)/SYNC(lsn_bell)/SYNC(slot_seq): acquire; pairs with the peer's bump.
			if atomic.LoadUint32(e.p.seq) != e.val {
				return parkWoken
			}
			select {
			case <-stop1:
				return parkStopped
			case <-stop2:
				return parkStopped
			default:
			}
			if e.p.word != nil {
				_ = e.p.word.Wait(e.val, slice)
			} else {
				time.Sleep(slice)
			}
		}
		if time.Since(lastLive) >= pollTick {
			lastLive = time.Now()
			for i := range entries {
				if entries[i].p.peer != nil && entries[i].p.peer.gone() {
					return parkPeerGone
				}
			}
		}
	}
}

// Timing of the spin phase before parking (the Adaptive strategy's, see
// wait.go): spin, then yield, then park.
const (
	netSpinFor  = 20 * time.Microsecond
	netYieldFor = 100 * time.Microsecond
)

// await blocks until ready reports true. It spins and yields for a moment
// (unless strategy is Block), then parks at p through the poller (unless
// strategy is Spin, which never parks). It returns errTimeout when dl fires,
// errStopped when closing fires, and ErrPeerGone when the peer died and
// ready is still false.
func await(p waitPoint, strategy WaitStrategy, ready func() bool, dl, closing <-chan struct{}) error {
	if strategy != Block {
		var began time.Time
		for i := 0; ; i++ {
			if ready() {
				return nil
			}
			if i%64 != 0 {
				continue
			}
			if err := stopped(dl, closing); err != nil {
				return err
			}
			now := time.Now()
			if began.IsZero() {
				began = now
			}
			waited := now.Sub(began)
			if strategy == Spin {
				if waited > netYieldFor {
					netYield()
				}
				if i%(64*1024) == 0 && p.peer != nil && p.peer.gone() {
					if ready() {
						return nil
					}
					return ErrPeerGone
				}
				continue
			}
			if waited >= netYieldFor {
				break
			}
			if waited >= netSpinFor {
				netYield()
			}
		}
	}
	points := []waitPoint{p}
	vals := []uint32{0}
	for {
		if err := stopped(dl, closing); err != nil {
			return err
		}
		// SYNC(data_seq)/SYNC(space_seq)/SYNC(lsn_bell)/SYNC(slot_seq):
		// acquire; loaded before the parked flag is set, so that a bump
		// after the re-check below makes the wait return at once.
		vals[0] = atomic.LoadUint32(p.seq)
		if p.parked != nil {
			// SYNC(rx_parked)/SYNC(tx_parked): seq_cst store, then ready()
			// re-checks the ring: pairs with the peer's store then parked
			// load in notify (Dekker), as waiter.pause does.
			atomic.StoreUint32(p.parked, 1)
		}
		ok := ready()
		why := parkWoken
		if !ok {
			why = park(points, vals, dl, closing)
		}
		if p.parked != nil {
			// SYNC(rx_parked)/SYNC(tx_parked): seq_cst; pairs with the load in the peer's notify.
			atomic.StoreUint32(p.parked, 0)
		}
		if ok || ready() {
			return nil
		}
		switch why {
		case parkPeerGone:
			return ErrPeerGone
		case parkStopped:
			if err := stopped(dl, closing); err != nil {
				return err
			}
		}
	}
}

// errStopped reports that the closing channel of a wait fired.
var errStopped = errors.New("shm: wait stopped by close")

func stopped(dl, closing <-chan struct{}) error {
	select {
	case <-closing:
		return errStopped
	default:
	}
	select {
	case <-dl:
		return errTimeout
	default:
	}
	return nil
}

// WaitAny blocks until one of rs has a message to receive, or its sender
// has closed or died, and returns its index: the next TryRecv on rs[i] does
// not return ErrEmpty (it returns a message, io.EOF or ErrPeerGone). When
// ctx is done it returns -1 and ctx.Err() (an expired deadline also matches
// os.ErrDeadlineExceeded).
//
// It is the select of channels: one goroutine waits on many receivers, and
// while it is parked it holds no OS thread of its own (see the package doc,
// "Waiting on many channels"). Each receiver must not be used by another
// goroutine during the call. With no receivers it waits for ctx.
func WaitAny(ctx context.Context, rs ...*Receiver) (int, error) {
	points := make([]waitPoint, len(rs))
	vals := make([]uint32, len(rs))
	for i, r := range rs {
		if r == nil || r.closed {
			return -1, wrap("wait any", "", fmt.Errorf("receiver %d: %w", i, ErrClosed))
		}
		points[i] = recvPoint(r)
	}
	ready := func() int {
		for i, r := range rs {
			if _, err := r.TryPeek(); err != ErrEmpty {
				return i
			}
		}
		return -1
	}
	ctxErr := func() error {
		err := ctx.Err()
		if _, ok := ctx.Deadline(); ok && err == context.DeadlineExceeded {
			return fmt.Errorf("%w (%w)", os.ErrDeadlineExceeded, err)
		}
		return err
	}
	began := time.Now()
	for spins := 0; time.Since(began) < netYieldFor; spins++ {
		if i := ready(); i >= 0 {
			return i, nil
		}
		if err := ctx.Err(); err != nil {
			return -1, ctxErr()
		}
		if time.Since(began) > netSpinFor {
			netYield()
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return -1, ctxErr()
		}
		for i, p := range points {
			// SYNC(data_seq): acquire, before setting rx_parked, as in await.
			vals[i] = atomic.LoadUint32(p.seq)
			// SYNC(rx_parked): seq_cst store, then ready() re-checks; pairs with Sender.notify.
			atomic.StoreUint32(p.parked, 1)
		}
		i := ready()
		why := parkWoken
		if i < 0 {
			why = park(points, vals, ctx.Done(), nil)
		}
		for _, p := range points {
			// SYNC(rx_parked): seq_cst; pairs with the load in Sender.notify.
			atomic.StoreUint32(p.parked, 0)
		}
		if i >= 0 {
			return i, nil
		}
		if i = ready(); i >= 0 {
			return i, nil
		}
		if why == parkPeerGone {
			for i, p := range points {
				if p.peer.gone() {
					return i, nil
				}
			}
		}
	}
}

// pollerState is the process-wide poller: its groups of registered words.
var pollerState struct {
	mu       sync.Mutex
	groups   []*pollGroup
	disabled bool // futex_waitv is missing: every wait falls back
}

// register adds the entries to the poller. It returns false if this OS has
// no poller, and the caller falls back to parking itself.
func register(entries []pollEntry) bool {
	pollerState.mu.Lock()
	defer pollerState.mu.Unlock()
	if pollerState.disabled || !pollSupported() {
		return false
	}
	for i := range entries {
		var g *pollGroup
		for _, cand := range pollerState.groups {
			if cand.add(&entries[i]) {
				g = cand
				break
			}
		}
		if g == nil {
			g = newPollGroup()
			pollerState.groups = append(pollerState.groups, g)
			g.add(&entries[i])
		}
	}
	return true
}

// unregister removes entries that are still registered (the poller removes
// those it fired). After it returns, no poller thread touches their words
// again, so the memory may be unmapped.
func unregister(entries []pollEntry) {
	for i := range entries {
		if g := entries[i].g; g != nil {
			g.remove(&entries[i])
		}
	}
}

// pollThreads returns the number of poller threads started so far (for tests
// and docs: one per pollGroupSize registered words, at the peak).
func pollThreads() int {
	pollerState.mu.Lock()
	defer pollerState.mu.Unlock()
	return len(pollerState.groups)
}
