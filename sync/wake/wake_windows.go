package wake

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/windows"
)

// osWord is a named auto-reset event on Windows. WaitOnAddress keys its
// waiters by virtual address inside one process, so it cannot wake another
// process; a named kernel event can. Both processes derive the event's name
// from the name given to Open:
//
//	Open(addr, "ch.data")          -> Local\shmchan.wake:ch.data
//	Open(addr, `Global\ch.data`)   -> Global\shmchan.wake:ch.data
//
// The ':' cannot occur in a segment name (see shm.ValidateName), so an event
// never collides with a segment, whose kernel objects share the namespace.
//
// Wait checks the word, then waits on the event. The check and the sleep are
// not one atomic step, but the event closes the gap: a waker increments the
// word and then sets the event, and an auto-reset event stays set until one
// waiter consumes it, so a wakeup between the check and the sleep makes the
// sleep return at once. The price is a stale signal when Wake finds nobody
// sleeping: the next Wait returns at once, a spurious wakeup that the
// contract allows.
//
// Unlike the futex, an auto-reset event releases one waiter per Wake. Every
// shmchan word has one waiter at a time (the receiver on data_seq, the
// sender on space_seq); a protocol with several waiters on one word must
// bound their sleeps with a timeout, as the channel does.
type osWord struct {
	ev windows.Handle
}

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

func (w *osWord) open(_ *uint32, name string) error {
	obj, err := eventName(name)
	if err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(obj)
	if err != nil {
		return fmt.Errorf("wake: event name %q: %w", obj, err)
	}
	// Auto-reset, not signalled; the default security descriptor (the
	// current user). If the peer created it first, CreateEvent opens it and
	// reports ERROR_ALREADY_EXISTS along with a valid handle: that is success.
	h, err := windows.CreateEvent(nil, 0, 0, p)
	if h == 0 && errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		// It exists but grants us less than all access: ask for what Wait
		// and Wake need.
		h, err = windows.OpenEvent(windows.SYNCHRONIZE|windows.EVENT_MODIFY_STATE, false, p)
	}
	if h == 0 {
		return fmt.Errorf("wake: CreateEvent %s: %w", obj, err)
	}
	w.ev = h
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

func (w *osWord) wake(*uint32) error {
	if err := windows.SetEvent(w.ev); err != nil {
		return fmt.Errorf("wake: SetEvent: %w", err)
	}
	return nil
}

// millis rounds a timeout up to whole milliseconds, so that a short timeout
// sleeps rather than spins, and keeps it below INFINITE.
func millis(d time.Duration) uint32 {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	return uint32(min(ms, windows.INFINITE-1))
}
