package wake

import (
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// osWord is stateless on Linux: the futex is keyed by the physical page and
// offset of the shared word, which both processes map.
type osWord struct{}

// Shared futex operations: never FUTEX_PRIVATE_FLAG on shared memory.
const (
	futexWait = 0 // FUTEX_WAIT
	futexWake = 1 // FUTEX_WAKE
)

func (osWord) open(*uint32, string, int) error { return nil }

func (osWord) close() error { return nil }

func (osWord) wait(addr *uint32, val uint32, timeout time.Duration) error {
	ts := unix.NsecToTimespec(int64(timeout))
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWait, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
	switch e {
	case 0, unix.EAGAIN, unix.EINTR, unix.ETIMEDOUT:
		return nil // woken, value already changed, signal, or timeout: the caller re-checks
	}
	return fmt.Errorf("wake: futex wait: %w", e)
}

func (osWord) wake(addr *uint32, _ int) error {
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWake, uintptr(1<<31-1), 0, 0, 0)
	if e != 0 {
		return fmt.Errorf("wake: futex wake: %w", e)
	}
	return nil
}
