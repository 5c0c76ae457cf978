package shm

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/shmchan/shmchan/internal/platform"
)

// A channel and a mailbox are both objects laid over a named segment, made
// and opened the same way (docs/layout.md): the creator fills a zero-filled
// segment's header and stores the version last; an opener waits for the
// version, then checks the header. objectKind holds what differs.
type objectKind struct {
	what  string                                        // "channel", "mailbox": for errors
	init  func(mem []byte)                              // fills a new segment's header, version last
	check func(mem []byte, timeout time.Duration) error // validates an existing segment
	// param reads the creation parameter (capacity, maximum value) of a
	// checked segment, and want is the one asked for: OpenOrCreate of an
	// object with another parameter fails with ErrIncompatible.
	param     func(mem []byte) uint64
	paramName string // "capacity", "maximum value"
	want      uint64
}

// create makes a new segment of size bytes and initialises it.
func (k *objectKind) create(name string, size int64, o *options, opts []Option) (*Segment, error) {
	op := "create " + k.what
	if err := byteOrder(false); err != nil {
		return nil, wrap(op, name, err)
	}
	if o.readOnly {
		return nil, wrap(op, name, ErrReadOnly)
	}
	// STEP(create.1) Create the object exclusively, give it its size and map it: its bytes are zero.
	seg, err := Create(name, size, opts...)
	if err != nil {
		return nil, err
	}
	if err := guarded(func() error { k.init(seg.mem); return nil }); err != nil {
		return nil, wrap(op, name, errors.Join(err, seg.Close(), Remove(name)))
	}
	return seg, nil
}

// open maps an existing segment and checks it.
func (k *objectKind) open(name string, o *options, opts []Option) (*Segment, error) {
	op := "open " + k.what
	if err := byteOrder(true); err != nil {
		return nil, wrap(op, name, err)
	}
	if o.readOnly {
		return nil, wrap(op, name, ErrReadOnly)
	}
	// STEP(open.1) Open the object, make the owner check, map it (the kind's check tests the size).
	seg, err := Open(name, opts...)
	if err != nil {
		return nil, err
	}
	// Under the fault guard: an object truncated under us (or one whose
	// creator's reservation failed after we mapped it) is ErrCorrupt.
	if err := guarded(func() error { return k.check(seg.mem, o.openTimeout) }); err != nil {
		return nil, wrap(op, name, errors.Join(err, seg.Close()))
	}
	return seg, nil
}

// openOrCreate is open or create, whichever applies, without a race.
func (k *objectKind) openOrCreate(name string, size int64, o *options, opts []Option) (*Segment, bool, error) {
	op := "open-or-create " + k.what
	if err := byteOrder(false); err != nil {
		return nil, false, wrap(op, name, err)
	}
	if o.readOnly {
		return nil, false, wrap(op, name, ErrReadOnly)
	}
	// STEP(create.1) STEP(open.1) Whichever applies, without a race.
	seg, created, err := OpenOrCreate(name, size, opts...)
	if err != nil {
		return nil, false, err
	}
	if created {
		if err := guarded(func() error { k.init(seg.mem); return nil }); err != nil {
			return nil, false, wrap(op, name, errors.Join(err, seg.Close(), Remove(name)))
		}
		return seg, true, nil
	}
	if err := guarded(func() error { return k.check(seg.mem, o.openTimeout) }); err != nil {
		return nil, false, wrap(op, name, errors.Join(err, seg.Close()))
	}
	var got uint64
	if err := guarded(func() error { got = k.param(seg.mem); return nil }); err != nil {
		return nil, false, wrap(op, name, errors.Join(err, seg.Close()))
	}
	if got != k.want {
		return nil, false, wrap(op, name, errors.Join(
			fmt.Errorf("%w: %s %s %d, requested %d", ErrIncompatible, k.what, k.paramName, got, k.want), seg.Close()))
	}
	return seg, false, nil
}

// byteOrder refuses a big-endian machine before any field is read
// (docs/layout.md, "Byte order": the layout is little-endian, and the ring
// mixes explicit little-endian fields with native atomics): an opener gets
// ErrVersionMismatch, a creator errors.ErrUnsupported, as in C.
func byteOrder(open bool) error {
	if platform.LittleEndian {
		return nil
	}
	if open {
		return fmt.Errorf("%w: this machine is big-endian; the shared layout is little-endian", ErrVersionMismatch)
	}
	return fmt.Errorf("%w: this machine is big-endian; the shared layout is little-endian", errors.ErrUnsupported)
}

// awaitVersion waits up to timeout for the creator's version store, the
// opener's half of the handshake. A creator writes the magic before the
// version, so a segment still being set up has 0 there: any other magic than
// want fails at once with ErrNotChannel.
func awaitVersion(magic, version *uint32, want uint32, timeout time.Duration) (uint32, error) {
	var v uint32
	err := openBackoff(timeout, func() (bool, error) {
		// STEP(open.2) SYNC(version)/SYNC(mb_version): acquire; pairs with the store in
		// initChannel or initMailbox.
		if v = atomic.LoadUint32(version); v != 0 {
			return true, nil
		}
		if m := atomic.LoadUint32(magic); m != 0 && m != want {
			return true, fmt.Errorf("%w: magic %#x, want %#x", ErrNotChannel, m, want)
		}
		return false, nil
	})
	if errors.Is(err, errOpenTimeout) {
		return 0, fmt.Errorf("%w: no version stored after %v", ErrNotReady, timeout)
	}
	return v, err
}
