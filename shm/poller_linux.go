//go:build linux

package shm

import (
	"runtime"
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

// netYield gives the processor to this process's other goroutines and then
// to other processes, while a parked end spins. sched_yield is made as a raw
// system call: it returns at once or after a time slice, and without the
// runtime's syscall bookkeeping the P is not handed to a new thread, so a
// thousand ends spinning at once do not make the runtime start threads (with
// unix.Syscall, as platform.Yield does, TestConnIdleThreads saw up to 28 threads).
func netYield() {
	runtime.Gosched()
	unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
}

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
	mu      sync.Mutex
	entries []*pollEntry
	ctrl    uint32 // process-private futex word: bumped when entries change
}

var sweeper sync.Once

// newPollGroup starts a group's thread (and, with the first group, the
// liveness sweeper). The caller holds pollerState.mu.
func newPollGroup() *pollGroup {
	g := &pollGroup{}
	go g.run()
	sweeper.Do(func() { go sweepLiveness() })
	return g
}

// sweepLiveness wakes the ends whose peer died, every pollLiveEvery, for
// all groups at once: the group threads themselves sleep until a word
// changes, so that idle connections cost no periodic wakeup per thread.
func sweepLiveness() {
	for range time.Tick(pollLiveEvery) {
		pollerState.mu.Lock()
		groups := append([]*pollGroup(nil), pollerState.groups...)
		pollerState.mu.Unlock()
		for _, g := range groups {
			g.mu.Lock()
			fired := false
			for i := 0; i < len(g.entries); {
				e := g.entries[i]
				if e.p.peer != nil && e.p.peer.gone() {
					g.removeLocked(i)
					e.n.gone.Store(true)
					e.n.signal()
					fired = true
					continue
				}
				i++
			}
			if fired {
				g.kickLocked()
			}
			g.mu.Unlock()
		}
	}
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
	if e.idx >= 0 {
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
	e.idx = -1 // e.g stays: only the registering goroutine reads it
}

// kickLocked makes the thread rebuild its word list: it bumps the control
// word (so a futex_waitv about to start returns EAGAIN) and wakes it.
func (g *pollGroup) kickLocked() {
	// SYNC(poll_ctrl): pairs with the load in run, under g.mu.
	atomic.AddUint32(&g.ctrl, 1)
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&g.ctrl)), futexWakePriv, 1, 0, 0, 0)
}

// run is the group's thread: fire the entries whose word changed, then
// sleep on the rest until one changes or an entry comes or goes.
func (g *pollGroup) run() {
	wv := make([]futexWaitv, 0, futexWaitvMax)
	for {
		// With GOMAXPROCS=1 this goroutine's system call holds the only P,
		// and whatever is runnable (the goroutines it just woke, those they
		// woke) waits until the runtime's monitor takes the P back: a parked
		// 64-byte Conn round trip measured p50 255870..368417 ns so, and
		// 9263..13701 ns yielding here first. With more Ps another takes
		// them, and the yield measured slower for gRPC (docs/services.md).
		oneP := runtime.GOMAXPROCS(0) == 1
		if oneP {
			runtime.Gosched()
		}
		g.mu.Lock()
		fired := false
		for i := 0; i < len(g.entries); {
			e := g.entries[i]
			// SYNC(data_seq)/SYNC(space_seq)/SYNC(lsn_bell)/SYNC(slot_seq):
			// acquire; pairs with the peer's bump before its FUTEX_WAKE.
			if atomic.LoadUint32(e.p.seq) != e.val {
				g.removeLocked(i)
				e.n.signal()
				fired = true
				continue
			}
			i++
		}
		if fired && oneP {
			g.mu.Unlock()
			continue // yield to them, then look again
		}
		wv = wv[:0]
		// SYNC(poll_ctrl): loaded under g.mu; pairs with the bump in kickLocked.
		wv = append(wv, futexWaitv{val: uint64(atomic.LoadUint32(&g.ctrl)), uaddr: uint64(uintptr(unsafe.Pointer(&g.ctrl))), flags: futex2SizeU32 | futex2Private})
		for _, e := range g.entries {
			wv = append(wv, futexWaitv{val: uint64(e.val), uaddr: uint64(uintptr(unsafe.Pointer(e.p.seq))), flags: futex2SizeU32})
		}
		g.mu.Unlock()
		// No timeout: liveness is the sweeper's job. Returns the index of a
		// woken word, or fails with EAGAIN (a value already differs), EINTR
		// or EFAULT (a word was unmapped after its entry was removed): in
		// every case, rescan.
		unix.Syscall6(sysFutexWaitv, uintptr(unsafe.Pointer(&wv[0])), uintptr(len(wv)), 0, 0, 0, 0)
		// The waitv array must stay reachable during the system call that reads it.
		runtime.KeepAlive(wv)
	}
}

// signal hands one wakeup to the goroutine blocked on n; it never blocks the
// poller (n.c is buffered 1, and a pending wakeup already says enough).
func (n *notifier) signal() {
	select {
	case n.c <- struct{}{}:
	default:
	}
}
