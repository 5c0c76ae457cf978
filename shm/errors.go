package shm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/shmchan/shmchan/internal/platform"
	"github.com/shmchan/shmchan/sync/ring"
	"github.com/shmchan/shmchan/sync/seqlock"
)

// Sentinel errors. Every error returned by this package is either one of these,
// an *Error wrapping one of these (or an OS error), or a standard error such as
// io.EOF or os.ErrDeadlineExceeded. Test with errors.Is.
var (
	// ErrInvalidName reports a segment name that breaks the portable naming rule
	// (see ValidateName). The wrapped message says which part of the rule.
	ErrInvalidName = errors.New("shm: invalid name")

	// ErrInvalidSize reports a segment size or channel capacity that is zero,
	// negative, too large for the platform, or (for channels) not a power of two.
	ErrInvalidSize = errors.New("shm: invalid size")

	// ErrReadOnly reports a write to a segment that was opened read-only.
	ErrReadOnly = errors.New("shm: segment is read-only")

	// ErrOutOfRange reports an offset or length outside the segment.
	ErrOutOfRange = errors.New("shm: offset out of range")

	// ErrMisaligned reports an atomic access at an offset that is not a
	// multiple of the word size.
	ErrMisaligned = errors.New("shm: misaligned atomic access")

	// ErrClosed reports use of a segment, view or channel end after Close, or a
	// send to a channel whose receiver has closed it. It is os.ErrClosed, so
	// code that already checks for closed files keeps working.
	ErrClosed = os.ErrClosed

	// ErrNotReady reports that a segment's creator did not finish initialising
	// it (a zero size, or no version stored) before the open deadline.
	ErrNotReady = errors.New("shm: segment not ready")

	// ErrVersionMismatch reports a channel or mailbox whose layout version this
	// library does not speak.
	ErrVersionMismatch = errors.New("shm: layout version mismatch")

	// ErrNotChannel reports a segment that does not start with the expected
	// magic number: it is not a channel (or not a mailbox).
	ErrNotChannel = errors.New("shm: segment is not a shmchan object")

	// ErrIncompatible reports an existing object whose parameters (capacity,
	// maximum value size) differ from the ones requested.
	ErrIncompatible = errors.New("shm: existing object has different parameters")

	// ErrCorrupt reports a header, index or record in shared memory that breaks
	// the layout's invariants. The peer is buggy, hostile, or the memory was
	// overwritten; the channel cannot be trusted any more.
	ErrCorrupt = errors.New("shm: corrupt shared memory")

	// ErrBusy reports that a channel's sender or receiver role, or a
	// mailbox's writer role, is held by another live process or handle.
	ErrBusy = errors.New("shm: role already claimed")

	// ErrFull reports that TrySend found no room for the message.
	ErrFull = errors.New("shm: channel full")

	// ErrEmpty reports that TryRecv or TryPeek found no message.
	ErrEmpty = errors.New("shm: nothing to receive")

	// ErrTooLarge reports a message larger than the channel's maximum, or a
	// value larger than a mailbox's maximum.
	ErrTooLarge = errors.New("shm: message or value too large")

	// ErrNoReservation reports Commit without a pending Reserve, or Release
	// without a pending Peek.
	ErrNoReservation = errors.New("shm: nothing reserved or peeked")

	// ErrPeerGone reports that the process on the other side died without
	// closing its end.
	ErrPeerGone = errors.New("shm: peer process is gone")

	// ErrNoSpace reports that the system could not reserve the memory for a
	// new segment (a full /dev/shm, for example). It wraps the OS error.
	ErrNoSpace = errors.New("shm: no space for segment")

	// ErrNoListener reports a Dial to a name where no listener serves: no
	// listener segment, a listener that closed, or (also matching
	// ErrPeerGone) one whose process died.
	ErrNoListener = errors.New("shm: no listener")

	// ErrListenerFull reports a Dial that found every slot of the listener
	// busy until its context ended; the error also matches the context's.
	ErrListenerFull = errors.New("shm: listener has no free slot")
)

// Standard sentinels that errors from this package may match as well.
var (
	_ = fs.ErrExist      // Create of an existing name
	_ = fs.ErrNotExist   // Open of a missing name
	_ = fs.ErrPermission // access denied by the OS
)

// Error records a failed operation on a named object, in the style of
// fs.PathError. The OS error (errno or Win32 code) stays inside Err, so
// errors.Is(err, fs.ErrExist) and the like work on every OS.
type Error struct {
	Op   string // "create", "open", "send", ...
	Name string // segment or channel name, or file path
	Err  error
}

// Error returns "op name: err", or "op: err" without a name.
func (e *Error) Error() string {
	if e.Name == "" {
		return e.Op + ": " + e.Err.Error()
	}
	return e.Op + " " + e.Name + ": " + e.Err.Error()
}

// Unwrap returns the underlying error, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

func wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Name: name, Err: err}
}

// lifts pairs each sentinel of a lower package with the one of this package
// that it becomes.
var lifts = [...]struct{ lower, shm error }{
	{ring.ErrFull, ErrFull},
	{ring.ErrEmpty, ErrEmpty},
	{ring.ErrTooLarge, ErrTooLarge},
	{ring.ErrCorrupt, ErrCorrupt},
	{ring.ErrNoReservation, ErrNoReservation},
	{seqlock.ErrCorrupt, ErrCorrupt},
	{seqlock.ErrTooLarge, ErrTooLarge},
	{platform.ErrNoSpace, ErrNoSpace},
	{platform.ErrSize, ErrInvalidSize},
}

// lift is the one way an error of a lower package (sync/ring, sync/seqlock,
// internal/platform) comes up through this one: a bare lower sentinel becomes
// this package's sentinel itself (no allocation: ErrFull and ErrEmpty are on
// the hot path), and an error that wraps one, with context, is wrapped again
// so that it matches both, the context kept: "shm: corrupt shared memory:
// ring: record kind 3 at 64: ring: corrupt record or index". Any other error
// is returned as it is.
func lift(err error) error {
	if err == nil {
		return nil
	}
	for _, l := range lifts {
		if err == l.lower {
			return l.shm
		}
	}
	for _, l := range lifts {
		if errors.Is(err, l.lower) {
			return fmt.Errorf("%w: %w", l.shm, err)
		}
	}
	return err
}
