//go:build linux

package shm

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Linux poller: groups of up to pollGroupSize words, each served by one
// goroutine that sleeps in futex_waitv(2) (Linux 5.16+) and so holds one OS
// thread while it waits.

const (
	sysFutexWaitv = 449 // the same number on every architecture
	futexWaitvMax = 128 // FUTEX_WAITV_MAX
	futex2SizeU32 = 0x02
	futex2Private = 128
	futexWakePriv = 1 | 128 // FUTEX_WAKE | FUTEX_PRIVATE_FLAG

	// pollGroupSize is the words one thread waits on: the kernel's limit,
	// less the group's own control word.
	pollGroupSize = futexWaitvMax - 1
)

// futexWaitv is struct futex_waitv of <linux/futex.h>.
type futexWaitv struct {
	val      uint64
	uaddr    uint64
	flags    uint32
	reserved uint32
}

var pollProbe struct {
	once sync.Once
	ok   bool
}

// pollSupported reports whether the kernel has futex_waitv: a call with no
// words fails with EINVAL where it exists and ENOSYS where it does not.
func pollSupported() bool {
	pollProbe.once.Do(func() {
		_, _, e := unix.Syscall6(sysFutexWaitv, 0, 0, 0, 0, 0, 0)
		pollProbe.ok = e != unix.ENOSYS
	})
	return pollProbe.ok
}

// pollGroup is one waiting thread and the words it watches.
type pollGroup struct {
	mu       sync.Mutex
	entries  []*pollEntry
	ctrl     uint32 // process-private futex word: bumped when entries change
	lastLive time.Time
}

func newPollGroup() *pollGroup {
	g := &pollGroup{lastLive: time.Now()}
	go g.run()
	return g
}

// add registers e if the group has room, and wakes the thread so that it
// waits on e's word too.
func (g *pollGroup) add(e *pollEntry) bool {
	g.mu.Lock()
	if len(g.entries) >= pollGroupSize {
		g.mu.Unlock()
		return false
	}
	e.g, e.idx = g, len(g.entries)
	g.entries = append(g.entries, e)
	g.kickLocked()
	g.mu.Unlock()
	return true
}

// remove unregisters e if the thread has not fired it yet.
func (g *pollGroup) remove(e *pollEntry) {
	g.mu.Lock()
	if e.g == g && e.idx >= 0 {
		g.removeLocked(e.idx)
		g.kickLocked()
	}
	g.mu.Unlock()
}

func (g *pollGroup) removeLocked(i int) {
	e := g.entries[i]
	last := len(g.entries) - 1
	g.entries[i] = g.entries[last]
	g.entries[i].idx = i
	g.entries[last] = nil
	g.entries = g.entries[:last]
	e.idx, e.g = -1, nil
}

// kickLocked makes the thread rebuild its word list: it bumps the control
// word (so a futex_waitv about to start returns EAGAIN) and wakes it.
func (g *pollGroup) kickLocked() {
	// SYNC(poll_ctrl): pairs with the load in run, under g.mu.
	atomic.AddUint32(&g.ctrl, 1)
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&g.ctrl)), futexWakePriv, 1, 0, 0, 0)
}

// run is the group's thread: fire the entries whose word changed or whose
// peer died, then sleep on the rest until one changes, an entry comes or
// goes, or pollTick passes (for the liveness check).
func (g *pollGroup) run() {
	wv := make([]futexWaitv, 0, futexWaitvMax)
	for {
		g.mu.Lock()
		now := time.Now()
		live := now.Sub(g.lastLive) >= pollTick
		if live {
			g.lastLive = now
		}
		for i := 0; i < len(g.entries); {
			e := g.entries[i]
			// SYNC(data_seq)/SYNC(space_seq)/SYNC(lsn_bell)/SYNC(slot_seq):
			// acquire; pairs with the peer's bump before its FUTEX_WAKE.
			fire := atomic.LoadUint32(e.p.seq) != e.val
			if !fire && live && e.p.peer != nil && peerGone(e.p.peer, e.p.peerClosed) {
				e.n.gone.Store(true)
				fire = true
			}
			if fire {
				g.removeLocked(i)
				e.n.signal()
				continue
			}
			i++
		}
		wv = wv[:0]
		// SYNC(poll_ctrl): loaded under g.mu; pairs with the bump in kickLocked.
		wv = append(wv, futexWaitv{val: uint64(atomic.LoadUint32(&g.ctrl)), uaddr: uint64(uintptr(unsafe.Pointer(&g.ctrl))), flags: futex2SizeU32 | futex2Private})
		for _, e := range g.entries {
			wv = append(wv, futexWaitv{val: uint64(e.val), uaddr: uint64(uintptr(unsafe.Pointer(e.p.seq))), flags: futex2SizeU32})
		}
		idle := len(g.entries) == 0
		g.mu.Unlock()

		var tsp uintptr
		var ts unix.Timespec
		if !idle { // nothing to check when idle: sleep until an entry comes
			var mono unix.Timespec
			_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
			ts = unix.NsecToTimespec(mono.Nano() + int64(pollTick))
			tsp = uintptr(unsafe.Pointer(&ts))
		}
		// Returns the index of a woken word, or fails with EAGAIN (a value
		// already differs), ETIMEDOUT, EINTR or EFAULT (a word was unmapped
		// after its entry was removed): in every case, rescan.
		unix.Syscall6(sysFutexWaitv, uintptr(unsafe.Pointer(&wv[0])), uintptr(len(wv)), 0, tsp, unix.CLOCK_MONOTONIC, 0)
		keepAlive(wv)
		keepAlive(&ts)
	}
}
