package bench

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() {
	registerFloor(&floor{name: "floor-futex", await: futexAwait, hand: futexHand})
}

// Shared futex operations: never FUTEX_PRIVATE_FLAG on shared memory.
const (
	futexWait = 0 // FUTEX_WAIT
	futexWake = 1 // FUTEX_WAKE
)

// futexPoll bounds each sleep so that a dead peer is noticed.
const futexPoll = 50 * time.Millisecond

// futexAwait sleeps in FUTEX_WAIT while the word is not want. The kernel
// compares the word with the value loaded here and sleeps only if it still
// holds it, so a hand between the load and the sleep is never missed.
func futexAwait(word *uint32, want uint32, dead func() bool) bool {
	ts := unix.NsecToTimespec(int64(futexPoll))
	for {
		// SYNC(floor): acquire. Takes the turn; pairs with the store in the
		// peer's futexHand.
		v := atomic.LoadUint32(word)
		if v == want {
			return true
		}
		_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWait, uintptr(v), uintptr(unsafe.Pointer(&ts)), 0, 0)
		if e == unix.ETIMEDOUT && dead() {
			return false
		}
	}
}

// futexHand stores v and wakes the peer with a system call, whether it
// sleeps or not: the floor has no "parked" flag to skip it.
func futexHand(word *uint32, v uint32) {
	// SYNC(floor): release. Hands the turn over; pairs with the load in the
	// peer's futexAwait.
	atomic.StoreUint32(word, v)
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWake, 1, 0, 0, 0)
}
