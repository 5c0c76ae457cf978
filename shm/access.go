package shm

import (
	"fmt"
	"io"
	"sync/atomic"
	"unsafe"
)

// This file is the random-access view, the counterpart of .NET's
// CreateViewAccessor: byte ranges, bounds-checked little-endian integers, and
// atomic words that two processes can coordinate through.
//
// Go's sync/atomic operations are sequentially consistent ("synchronizes
// before" in the memory model), which is at least as strong as C11's
// memory_order_seq_cst on the same word, so a Go process and a C process that
// use atomics on the same aligned word interoperate.

// ReadAt reads len(p) bytes at offset off. It implements io.ReaderAt: a read
// that reaches the end returns the bytes that fit and io.EOF.
func (s *Segment) ReadAt(p []byte, off int64) (n int, err error) {
	err = s.view("read", false, func(mem []byte) error {
		if off < 0 {
			return fmt.Errorf("read at %d: %w", off, ErrOutOfRange)
		}
		if off >= int64(len(mem)) {
			if len(p) == 0 && off == int64(len(mem)) {
				return nil
			}
			return io.EOF
		}
		n = copy(p, mem[off:])
		if n < len(p) {
			return io.EOF
		}
		return nil
	})
	return n, err
}

// WriteAt writes len(p) bytes at offset off. It implements io.WriterAt. A
// write that does not fit writes what fits and returns an error matching
// ErrOutOfRange (and io.ErrShortWrite); the segment never grows.
func (s *Segment) WriteAt(p []byte, off int64) (n int, err error) {
	err = s.view("write", true, func(mem []byte) error {
		if off < 0 || off > int64(len(mem)) {
			return fmt.Errorf("write at %d: %w", off, ErrOutOfRange)
		}
		n = copy(mem[off:], p)
		if n < len(p) {
			return fmt.Errorf("write %d bytes at %d: %w after %d bytes (%w)", len(p), off, ErrOutOfRange, n, io.ErrShortWrite)
		}
		return nil
	})
	return n, err
}

// span checks that [off, off+n) lies inside mem.
func span(mem []byte, off int64, n int) error {
	if off < 0 || off > int64(len(mem))-int64(n) {
		return fmt.Errorf("%d bytes at %d in a %d-byte segment: %w", n, off, len(mem), ErrOutOfRange)
	}
	return nil
}

// ReadUint8 returns the byte at off.
func (s *Segment) ReadUint8(off int64) (uint8, error) { return readLE[uint8](s, off) }

// WriteUint8 stores v at off.
func (s *Segment) WriteUint8(off int64, v uint8) error { return writeLE(s, off, v) }

// ReadUint16 returns the little-endian 16-bit value at off.
func (s *Segment) ReadUint16(off int64) (uint16, error) { return readLE[uint16](s, off) }

// WriteUint16 stores v at off, little-endian.
func (s *Segment) WriteUint16(off int64, v uint16) error { return writeLE(s, off, v) }

// ReadUint32 returns the little-endian 32-bit value at off.
func (s *Segment) ReadUint32(off int64) (uint32, error) { return readLE[uint32](s, off) }

// WriteUint32 stores v at off, little-endian.
func (s *Segment) WriteUint32(off int64, v uint32) error { return writeLE(s, off, v) }

// ReadUint64 returns the little-endian 64-bit value at off.
func (s *Segment) ReadUint64(off int64) (uint64, error) { return readLE[uint64](s, off) }

// WriteUint64 stores v at off, little-endian.
func (s *Segment) WriteUint64(off int64, v uint64) error { return writeLE(s, off, v) }

type unsigned interface {
	uint8 | uint16 | uint32 | uint64
}

// readLE reads the little-endian T at off, bounds-checked.
func readLE[T unsigned](s *Segment, off int64) (v T, err error) {
	n := int(unsafe.Sizeof(v))
	err = s.view("read", false, func(mem []byte) error {
		if err := span(mem, off, n); err != nil {
			return err
		}
		var x uint64
		for i := n - 1; i >= 0; i-- {
			x = x<<8 | uint64(mem[off+int64(i)])
		}
		v = T(x)
		return nil
	})
	return v, err
}

// writeLE stores v at off, little-endian, bounds-checked.
func writeLE[T unsigned](s *Segment, off int64, v T) error {
	n := int(unsafe.Sizeof(v))
	return s.view("write", true, func(mem []byte) error {
		if err := span(mem, off, n); err != nil {
			return err
		}
		x := uint64(v)
		for i := range n {
			mem[off+int64(i)] = byte(x >> (8 * i))
		}
		return nil
	})
}

// word checks that off addresses an aligned n-byte word inside mem and
// returns its address.
func word(mem []byte, off int64, n int) (unsafe.Pointer, error) {
	if err := span(mem, off, n); err != nil {
		return nil, err
	}
	p := unsafe.Pointer(&mem[off])
	if uintptr(p)%uintptr(n) != 0 {
		return nil, fmt.Errorf("%d-byte word at %d: %w", n, off, ErrMisaligned)
	}
	return p, nil
}

// LoadUint32 atomically loads the 32-bit word at off, which must be a
// multiple of 4. The word is in the machine's byte order (little-endian on
// every supported platform).
func (s *Segment) LoadUint32(off int64) (v uint32, err error) {
	err = s.view("load", false, func(mem []byte) error {
		p, err := word(mem, off, 4)
		if err == nil {
			// SYNC(user): acquire; pairs with the user's Store/CompareAndSwap in any process.
			v = atomic.LoadUint32((*uint32)(p))
		}
		return err
	})
	return v, err
}

// StoreUint32 atomically stores v in the 32-bit word at off.
func (s *Segment) StoreUint32(off int64, v uint32) error {
	return s.view("store", true, func(mem []byte) error {
		p, err := word(mem, off, 4)
		if err == nil {
			// SYNC(user): release; pairs with the user's Load in any process.
			atomic.StoreUint32((*uint32)(p), v)
		}
		return err
	})
}

// CompareAndSwapUint32 atomically replaces the 32-bit word at off with new if
// it holds old, and reports whether it did.
func (s *Segment) CompareAndSwapUint32(off int64, old, new uint32) (swapped bool, err error) {
	err = s.view("compare-and-swap", true, func(mem []byte) error {
		p, err := word(mem, off, 4)
		if err == nil {
			// SYNC(user): acq_rel; pairs with the user's Load/Store in any process.
			swapped = atomic.CompareAndSwapUint32((*uint32)(p), old, new)
		}
		return err
	})
	return swapped, err
}

// AddUint32 atomically adds delta to the 32-bit word at off and returns the
// new value.
func (s *Segment) AddUint32(off int64, delta uint32) (v uint32, err error) {
	err = s.view("add", true, func(mem []byte) error {
		p, err := word(mem, off, 4)
		if err == nil {
			// SYNC(user): acq_rel; pairs with the user's Load/Store in any process.
			v = atomic.AddUint32((*uint32)(p), delta)
		}
		return err
	})
	return v, err
}

// LoadUint64 atomically loads the 64-bit word at off, which must be a
// multiple of 8.
func (s *Segment) LoadUint64(off int64) (v uint64, err error) {
	err = s.view("load", false, func(mem []byte) error {
		p, err := word(mem, off, 8)
		if err == nil {
			// SYNC(user): acquire; pairs with the user's Store/CompareAndSwap in any process.
			v = atomic.LoadUint64((*uint64)(p))
		}
		return err
	})
	return v, err
}

// StoreUint64 atomically stores v in the 64-bit word at off.
func (s *Segment) StoreUint64(off int64, v uint64) error {
	return s.view("store", true, func(mem []byte) error {
		p, err := word(mem, off, 8)
		if err == nil {
			// SYNC(user): release; pairs with the user's Load in any process.
			atomic.StoreUint64((*uint64)(p), v)
		}
		return err
	})
}

// CompareAndSwapUint64 atomically replaces the 64-bit word at off with new if
// it holds old, and reports whether it did.
func (s *Segment) CompareAndSwapUint64(off int64, old, new uint64) (swapped bool, err error) {
	err = s.view("compare-and-swap", true, func(mem []byte) error {
		p, err := word(mem, off, 8)
		if err == nil {
			// SYNC(user): acq_rel; pairs with the user's Load/Store in any process.
			swapped = atomic.CompareAndSwapUint64((*uint64)(p), old, new)
		}
		return err
	})
	return swapped, err
}

// AddUint64 atomically adds delta to the 64-bit word at off and returns the
// new value.
func (s *Segment) AddUint64(off int64, delta uint64) (v uint64, err error) {
	err = s.view("add", true, func(mem []byte) error {
		p, err := word(mem, off, 8)
		if err == nil {
			// SYNC(user): acq_rel; pairs with the user's Load/Store in any process.
			v = atomic.AddUint64((*uint64)(p), delta)
		}
		return err
	})
	return v, err
}
