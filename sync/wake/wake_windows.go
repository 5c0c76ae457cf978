package wake

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// osWord is a named semaphore on Windows. WaitOnAddress keys its waiters
// by virtual address inside one process, so it cannot wake another process;
// a named kernel object can. Both processes derive its name from the name
// given to Open:
//
//	Open(addr, "ch.data")          -> Local\shmchan.wake:ch.data
//	Open(addr, `Global\ch.data`)   -> Global\shmchan.wake:ch.data
//
// The ':' cannot occur in a segment name (see shm.ValidateName), so the
// object never collides with a segment, whose kernel objects share the
// namespace.
//
// Wait checks the word, then waits on the semaphore. The check and the sleep
// are not one atomic step, but the count closes the gap: a waker increments
// the word and then releases the semaphore, and the count stays until a
// waiter consumes it, so a wakeup between the check and the sleep makes the
// sleep return at once. The price is a stale count when WakeN finds fewer
// sleepers than it released: as many later Waits return at once, spurious
// wakeups that the contract allows. The maximum count (maxWaiters) bounds
// that: 1 for a channel's words (one sleeper each, which is an auto-reset
// event's behaviour), the mailbox's reader bound for its word.
//
// Layout version 1 used an auto-reset event, which releases one sleeper per
// wake: of three readers parked on a mailbox, two slept out their 50 ms
// tick after every publish.
type osWord struct {
	ev windows.Handle
}

var (
	kernel32             = windows.NewLazySystemDLL("kernel32.dll")
	procCreateSemaphoreW = kernel32.NewProc("CreateSemaphoreW")
	procOpenSemaphoreW   = kernel32.NewProc("OpenSemaphoreW")
	procReleaseSemaphore = kernel32.NewProc("ReleaseSemaphore")
)

// semaphoreModifyState is SEMAPHORE_MODIFY_STATE, the right ReleaseSemaphore needs.
const semaphoreModifyState = 0x0002

// eventPrefix starts every event name, after the namespace.
const eventPrefix = "shmchan.wake:"

// eventName derives the kernel event name from the word's name.
func eventName(name string) (string, error) {
	ns := `Local\`
	for _, p := range []string{`Global\`, `Local\`} {
		if rest, ok := strings.CutPrefix(name, p); ok {
			ns, name = p, rest
			break
		}
	}
	if name == "" {
		return "", errors.New("wake: a Word needs a name on Windows: it names the event both processes open")
	}
	if strings.ContainsAny(name, "\\\x00") {
		return "", fmt.Errorf("wake: name %q holds a backslash or NUL", name)
	}
	return ns + eventPrefix + name, nil
}

func (w *osWord) open(_ *uint32, name string, maxWaiters int) error {
	obj, err := eventName(name)
	if err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(obj)
	if err != nil {
		return fmt.Errorf("wake: object name %q: %w", obj, err)
	}
	// Count 0, maximum maxWaiters; the default security descriptor (the
	// current user). If the peer created it first, CreateSemaphoreW opens it
	// (ERROR_ALREADY_EXISTS with a valid handle): that is success.
	r, _, err := procCreateSemaphoreW.Call(0, 0, uintptr(maxWaiters), uintptr(unsafe.Pointer(p)))
	if r == 0 && errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		// It exists but grants us less than all access: ask for what Wait
		// and Wake need.
		r, _, err = procOpenSemaphoreW.Call(windows.SYNCHRONIZE|semaphoreModifyState, 0, uintptr(unsafe.Pointer(p)))
	}
	if r == 0 {
		return fmt.Errorf("wake: CreateSemaphore %s: %w", obj, err)
	}
	w.ev = windows.Handle(r)
	return nil
}

func (w *osWord) close() error {
	if w.ev == 0 {
		return nil
	}
	h := w.ev
	w.ev = 0
	if err := windows.CloseHandle(h); err != nil {
		return fmt.Errorf("wake: CloseHandle: %w", err)
	}
	return nil
}

func (w *osWord) wait(addr *uint32, val uint32, timeout time.Duration) error {
	// SYNC(wake-word): acquire; pairs with the waker's increment before Wake.
	if atomic.LoadUint32(addr) != val {
		return nil
	}
	r, err := windows.WaitForSingleObject(w.ev, millis(timeout))
	switch r {
	case windows.WAIT_OBJECT_0, uint32(windows.WAIT_TIMEOUT):
		return nil // woken (perhaps by a stale signal) or timed out: the caller re-checks
	}
	return fmt.Errorf("wake: WaitForSingleObject: %w", err)
}

func (w *osWord) wake(_ *uint32, n int) error {
	r, _, err := procReleaseSemaphore.Call(uintptr(w.ev), uintptr(n), 0)
	if r == 0 && errors.Is(err, windows.ERROR_TOO_MANY_POSTS) {
		// The count would pass the maximum: some are stale already. Release
		// what still fits, one at a time.
		for i := 0; i < n; i++ {
			if r, _, _ := procReleaseSemaphore.Call(uintptr(w.ev), 1, 0); r == 0 {
				break
			}
		}
		return nil
	}
	if r == 0 {
		return fmt.Errorf("wake: ReleaseSemaphore: %w", err)
	}
	return nil
}

// millis rounds a timeout up to whole milliseconds, so that a short timeout
// sleeps rather than spins, and keeps it below INFINITE.
func millis(d time.Duration) uint32 {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	return uint32(min(ms, windows.INFINITE-1))
}
