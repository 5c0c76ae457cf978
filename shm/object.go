package shm

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
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
	if o.readOnly {
		return nil, wrap(op, name, ErrReadOnly)
	}
	seg, err := Create(name, size, opts...)
	if err != nil {
		return nil, err
	}
	k.init(seg.mem)
	return seg, nil
}

// open maps an existing segment and checks it.
func (k *objectKind) open(name string, o *options, opts []Option) (*Segment, error) {
	op := "open " + k.what
	if o.readOnly {
		return nil, wrap(op, name, ErrReadOnly)
	}
	seg, err := Open(name, opts...)
	if err != nil {
		return nil, err
	}
	if err := k.check(seg.mem, o.openTimeout); err != nil {
		return nil, wrap(op, name, errors.Join(err, seg.Close()))
	}
	return seg, nil
}

// openOrCreate is open or create, whichever applies, without a race.
func (k *objectKind) openOrCreate(name string, size int64, o *options, opts []Option) (*Segment, bool, error) {
	op := "open-or-create " + k.what
	if o.readOnly {
		return nil, false, wrap(op, name, ErrReadOnly)
	}
	seg, created, err := OpenOrCreate(name, size, opts...)
	if err != nil {
		return nil, false, err
	}
	if created {
		k.init(seg.mem)
		return seg, true, nil
	}
	if err := k.check(seg.mem, o.openTimeout); err != nil {
		return nil, false, wrap(op, name, errors.Join(err, seg.Close()))
	}
	if got := k.param(seg.mem); got != k.want {
		return nil, false, wrap(op, name, errors.Join(
			fmt.Errorf("%w: %s %s %d, requested %d", ErrIncompatible, k.what, k.paramName, got, k.want), seg.Close()))
	}
	return seg, false, nil
}

// awaitVersion waits up to timeout for the creator's version store, the
// opener's half of the handshake. A creator writes the magic before the
// version, so a segment still being set up has 0 there: any other magic than
// want fails at once with ErrNotChannel.
func awaitVersion(magic, version *uint32, want uint32, timeout time.Duration) (uint32, error) {
	var v uint32
	err := openBackoff(timeout, func() (bool, error) {
		// SYNC(version)/SYNC(mb_version): acquire; pairs with the store in
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
