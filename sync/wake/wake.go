// Package wake is a cross-process wait/wake point on a 32-bit word in shared
// memory: the sleeping half of a lock-free protocol whose fast path never
// leaves user space.
//
// The contract is the Go runtime's futexsleep: Wait(val, timeout) atomically
// checks that the word still holds val and, if so, sleeps until Wake, the
// timeout, or a spurious wakeup. Callers always re-check their own condition
// after Wait returns; a wakeup never replaces the release store that
// published the condition.
//
// Mechanisms, one file per OS:
//   - Linux: futex(2) on the shared word, FUTEX_WAIT/FUTEX_WAKE without
//     FUTEX_PRIVATE_FLAG (the private flag would key the futex on this
//     process's address space and the other process would never be woken).
//   - Windows: a named auto-reset event derived from the word's name, since
//     WaitOnAddress does not work across processes. An auto-reset event
//     releases one waiter per Wake (see wake_windows.go).
//   - macOS with cgo: os_sync_wait_on_address with its SHARED flag (macOS
//     14.4 and later), found at run time; on older systems, the poll below.
//   - Elsewhere, and macOS without cgo: a sleeping poll of the word, which
//     sees a wakeup within about 1 ms and is bounded by the timeout.
//
// A Word is safe for concurrent use. Wake costs a system call, so protocols
// keep a shared "parked" flag and call Wake only when the peer is parked.
package wake

import (
	"time"
)

// Word is a wait/wake point on one aligned 32-bit word of shared memory.
type Word struct {
	addr *uint32
	os   osWord
}

// Open returns a Word for the 32-bit word at addr, which must stay mapped
// until Close. name identifies the word across processes on systems whose
// mechanism is a named kernel object (Windows); both processes must pass the
// same name for the same word. It is ignored on Linux.
func Open(addr *uint32, name string) (*Word, error) {
	w := &Word{addr: addr}
	if err := w.os.open(addr, name); err != nil {
		return nil, err
	}
	return w, nil
}

// Wait sleeps while the word holds val, until Wake is called, timeout
// passes, or a spurious wakeup. It returns at once if the word does not hold
// val. A timeout <= 0 returns at once. It returns an error only when the OS
// mechanism fails; a timeout or wakeup returns nil, and the caller re-checks
// its condition and its deadline.
func (w *Word) Wait(val uint32, timeout time.Duration) error {
	if timeout <= 0 {
		return nil
	}
	return w.os.wait(w.addr, val, timeout)
}

// Wake wakes every process and thread waiting on the word (on Windows, one
// of them: see the package doc).
func (w *Word) Wake() error { return w.os.wake(w.addr) }

// Close releases the OS resources of the Word (a no-op on Linux).
func (w *Word) Close() error { return w.os.close() }
