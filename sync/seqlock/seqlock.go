// Package seqlock is a single-writer, many-reader "latest value" cell over a
// byte region: the data path of a shmchan mailbox. The writer publishes
// whole values and never waits; a reader copies the newest complete value and
// never sees a torn one. It knows nothing of mappings, processes or sleeping:
// package shm wraps it with names, roles and waits.
//
// # Algorithm
//
// The region holds N slots (N = 3 in a mailbox), each a seqlock: a 128-byte
// header with a sequence word and a length, then the value bytes. A shared
// word, latest, holds the version of the newest complete value; version v
// lives in slot v mod N. To publish version v the writer marks its slot's
// sequence odd (2v+1), writes the length and the bytes, marks the sequence
// even (2v) and stores latest = v. A reader loads latest, checks that the
// slot's sequence is 2v, copies the value, and checks the sequence again; if
// it changed, the writer lapped the reader and the reader starts over.
//
// N = 1 is the classic seqlock, N = 2 the Linux kernel's seqcount latch, N = 3
// a triple buffer. More slots than one matter for two reasons:
//
//   - The slot that latest names is not the one the writer is writing. With
//     one slot, readers cannot read at all while a large value is being
//     written, and a writer that publishes back to back starves them. With N
//     slots a reader fails only if, during its copy, the writer completes
//     N-1 whole values and starts one more.
//   - A writer that dies in the middle of a publish leaves the previous
//     version intact (with one slot it leaves only a half-written value, and
//     readers spin on its odd sequence for ever).
//
// Three slots rather than two: with two, a reader copying an 8 MB value
// fails whenever the writer, during the copy, finishes one value and starts
// the next; with three the writer must write two whole values during one
// read. BenchmarkRead, with a writer publishing 8 MB values back to back, on
// 2 cores shared with other work (load average about 15), three runs each:
//
//	                     torn attempts   time per value read
//	slots=1, 1 reader    100%            never completes
//	slots=2, 1 reader    10-12%          1.9-2.2 ms
//	slots=3, 1 reader    7.5-10%         1.5-1.9 ms
//	slots=2, 3 readers   5.6-9.8%        4.2-5.6 ms
//	slots=3, 3 readers   1.8-2.5%        2.5-6.0 ms
//
// The third slot costs one more MaxValue of memory and nothing on either
// path, and the more readers share the memory bandwidth, the more it saves.
//
// # Memory ordering, and why there is no C fence
//
// A seqlock reader's copy races with the writer by design, and a race is
// only harmless if the reader can tell afterwards. The classic C11 reader
// (Boehm, "Can seqlocks get along with programming language memory models?",
// 2012) copies, issues atomic_thread_fence(memory_order_acquire) so that the
// copy's loads stay before the second load of the sequence, and loads it.
// Go has no fences: its sync/atomic operations are sequentially consistent
// ("synchronizes before" in the memory model), but a plain load that comes
// before an atomic load in program order may still be satisfied after it (on
// arm64, LDAR orders only what follows it).
//
// Go can still express a correct reader, the second of Boehm's fixes: the
// second check is a read-modify-write, atomic.AddUint64(seq, 0), and the
// writer's odd mark is a read-modify-write too (atomic.SwapUint64). Then, if
// the reader's check comes before the writer's mark in the word's
// modification order, the mark reads the check's write: the check is
// synchronized before the mark, so every load of the copy happens before
// every store the writer makes after the mark, and the copy cannot have seen
// one. If the check comes after the mark, it reads a different sequence and
// the copy is thrown away. An accepted copy therefore has no data race at
// all; a discarded one raced, which the Go memory model allows to produce
// garbage but nothing worse, and every length read in it is bounds-checked
// before use.
//
// The cost is one atomic read-modify-write per read, on a line the writer
// also writes, and the region must be mapped writable by readers. The
// alternative, a cgo call into a C copy (memcpy, then the acquire fence;
// package internal/cfence), is measured against it by BenchmarkRead and
// BenchmarkReadIdle (same machine; the 64-byte idle figures are from a quiet
// moment, the rest under load):
//
//	                               pure Go (rmw)          cgo fenced copy
//	64 B, no writer                13.5 ns                84.5 ns
//	8 MB, no writer                1.6-3.4 ms             1.4-3.2 ms (a plain copy: 0.9-2.0 ms)
//	8 MB, busy writer, 3 slots     1.5-1.9 ms, 7.5-10%    2.9-27 ms, 16-37% torn
//
// The cgo copy is no faster for an idle 8 MB read (within noise), slower for
// small values (the cgo call), and loses more reads to a busy writer. The
// pure-Go reader is kept: it is at least as fast, needs no C compiler, and
// works with CGO_ENABLED=0. cfence stays only as the benchmark's baseline
// (bench_test.go reads through it with a copy of TryRead).
//
// A C peer follows the same protocol with <stdatomic.h>: the writer marks
// the slot with atomic_exchange (seq_cst) followed by
// atomic_thread_fence(memory_order_release); a reader may use either the
// read-modify-write check (atomic_fetch_add(seq, 0), seq_cst) or the fenced
// load. On amd64 and arm64 every one of these compiles to an instruction at
// least as strong as what the other language's half needs (x86 LOCK XADD and
// XCHG are full barriers; arm64 LDADDAL and SWPAL are acquire-release), so
// the two languages interoperate.
//
// # Untrusted memory
//
// Every word loaded from the region is checked: a latest beyond layout.MboxMaxVersion,
// a slot whose sequence is behind latest or ahead of it by less than a whole
// lap, a latest that has not moved on when a slot says the writer lapped the
// reader, a length larger than the slots hold (once a stable read, sequence
// unchanged, confirms it): each is ErrCorrupt. Never a panic, never an
// access outside the region. A hostile writer can still make readers retry
// for ever; nothing can prevent that short of a lock.
package seqlock

import (
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/shmchan/shmchan/internal/layout"
)

// The slot layout (a header with the sequence and length words, then the
// value bytes) and the limits on slots and versions are the MboxSlot…,
// MboxMaxSlots and MboxMaxVersion constants of internal/layout, which the C
// header is checked against.

// retriesBeforeYield is how many failed copies Read makes before it yields
// the processor between attempts (a reader preempted by a busy writer).
const retriesBeforeYield = 16

// Stride returns the bytes one slot occupies for values of up to maxValue
// bytes: the header and the value bytes rounded up to 128. It returns -1 if
// maxValue is negative or the stride would overflow an int.
func Stride(maxValue int) int {
	const limit = math.MaxInt - 2*layout.MboxSlotHeaderSize
	if maxValue < 0 || maxValue > limit {
		return -1
	}
	return layout.MboxSlotHeaderSize + (maxValue+layout.MboxSlotHeaderSize-1)&^(layout.MboxSlotHeaderSize-1)
}

// Buffer is a latest-value cell of slots over a byte region. Publish may be
// called by one goroutine of one process at a time (the caller enforces the
// single writer); Read and TryRead are safe for concurrent use by any number
// of goroutines and processes.
type Buffer struct {
	latest *uint64 // shared: the version of the newest complete value
	region []byte  // the slots
	slots  uint64
	stride int
	max    int
}

// New returns a Buffer over region, which holds slots slots of Stride(maxValue)
// bytes each, with the latest word at latest. Both must stay mapped, and
// writable (readers write too, see the package doc), while the Buffer is in
// use. New only checks the geometry; it reads nothing from the region.
func New(latest *uint64, region []byte, slots, maxValue int) (*Buffer, error) {
	stride := Stride(maxValue)
	switch {
	case latest == nil || uintptr(unsafe.Pointer(latest))%8 != 0:
		return nil, fmt.Errorf("seqlock: latest word %p is not 8-byte aligned", latest)
	case slots < 1 || slots > layout.MboxMaxSlots:
		return nil, fmt.Errorf("seqlock: %d slots (want 1 to %d): %w", slots, layout.MboxMaxSlots, ErrCorrupt)
	case stride < 0:
		return nil, fmt.Errorf("seqlock: maximum value %d: %w", maxValue, ErrCorrupt)
	case stride > len(region)/slots:
		return nil, fmt.Errorf("seqlock: %d slots of %d bytes do not fit in %d bytes: %w", slots, stride, len(region), ErrCorrupt)
	case uintptr(unsafe.Pointer(unsafe.SliceData(region)))%8 != 0:
		return nil, fmt.Errorf("seqlock: region %p is not 8-byte aligned", unsafe.SliceData(region))
	}
	return &Buffer{latest: latest, region: region[:slots*stride], slots: uint64(slots), stride: stride, max: maxValue}, nil
}

// MaxValue returns the largest value the slots hold.
func (b *Buffer) MaxValue() int { return b.max }

// slot returns the sequence and length words and the value bytes of the slot
// that holds version v.
func (b *Buffer) slot(v uint64) (seq, length *uint64, data []byte) {
	off := int(v%b.slots) * b.stride
	seq = (*uint64)(unsafe.Pointer(&b.region[off+layout.MboxSlotOffSeq]))
	length = (*uint64)(unsafe.Pointer(&b.region[off+layout.MboxSlotOffLen]))
	return seq, length, b.region[off+layout.MboxSlotHeaderSize : off+layout.MboxSlotHeaderSize+b.max : off+layout.MboxSlotHeaderSize+b.max]
}

// Version returns the version of the newest complete value, 0 if none was
// published. It is one atomic load.
func (b *Buffer) Version() (uint64, error) {
	// SYNC(mb_latest): acquire; pairs with the store at the end of Publish.
	v := atomic.LoadUint64(b.latest)
	if v > layout.MboxMaxVersion {
		return 0, fmt.Errorf("seqlock: version %d: %w", v, ErrCorrupt)
	}
	return v, nil
}

// Publish copies value into the slot after the newest and makes it the
// newest, with the next version, which it returns. It never waits for
// readers. It continues from the version in the region, so a writer that
// takes over from a dead one carries on where that one left off (a half
// written slot is simply written again).
func (b *Buffer) Publish(value []byte) (uint64, error) {
	if len(value) > b.max {
		return 0, fmt.Errorf("seqlock: value of %d bytes, the limit is %d: %w", len(value), b.max, ErrTooLarge)
	}
	// STEP(publish.1)
	v, err := b.Version()
	if err != nil {
		return 0, err
	}
	if v == layout.MboxMaxVersion {
		return 0, fmt.Errorf("seqlock: version %d: %w", v, ErrCorrupt)
	}
	v++
	seq, length, data := b.slot(v)
	// STEP(publish.2) SYNC(mb_seq): read-modify-write, so that no store below is ordered
	// before it; pairs with the reader's read-modify-write check in TryRead
	// (see the package doc).
	atomic.SwapUint64(seq, 2*v+1)
	// STEP(publish.3) SYNC(mb_len): written inside the odd window; pairs with the load in TryRead.
	atomic.StoreUint64(length, uint64(len(value)))
	copy(data, value)
	// STEP(publish.4) SYNC(mb_seq): release; publishes the bytes to a reader that loads 2v.
	atomic.StoreUint64(seq, 2*v)
	// STEP(publish.5) SYNC(mb_latest): release, after the slot is complete; pairs
	// with the load in Version.
	atomic.StoreUint64(b.latest, v)
	return v, nil
}

// Read copies the newest complete value into dst and returns it with its
// version. The value is dst[:n] if dst has the capacity, a new slice
// otherwise, so a reader that passes a buffer of MaxValue bytes never
// allocates. Before anything is published it returns an empty value and
// version 0. Read retries while the writer laps it, yielding the processor
// after a few attempts; it never blocks the writer.
func (b *Buffer) Read(dst []byte) (value []byte, version uint64, err error) {
	for try := 0; ; try++ {
		value, version, ok, err := b.TryRead(dst)
		if ok || err != nil {
			return value, version, err
		}
		dst = value[:0] // keep a buffer TryRead had to grow
		if try >= retriesBeforeYield {
			runtime.Gosched()
		}
	}
}

// TryRead is one attempt of Read: ok is false if the writer overwrote the
// slot during the copy, in which case value holds garbage (with dst's
// storage, or a larger buffer to pass next time) and the caller tries again.
func (b *Buffer) TryRead(dst []byte) (value []byte, version uint64, ok bool, err error) {
	// STEP(read.1)
	v, err := b.Version()
	if err != nil || v == 0 {
		return dst[:0], 0, err == nil, err
	}
	seq, length, data := b.slot(v)
	// STEP(read.2) SYNC(mb_seq): acquire; pairs with the writer's even store, which
	// precedes its store of latest = v.
	s := atomic.LoadUint64(seq)
	if s != 2*v {
		return dst[:0], v, false, b.lapped(v, s)
	}
	// STEP(read.3) SYNC(mb_len): read inside the seqlock window; checked below before use.
	n := atomic.LoadUint64(length)
	if n > uint64(b.max) || n > uint64(cap(dst)) {
		// Either a torn read or a real length to check; settle it first.
		if !b.stable(seq, s) {
			return dst[:0], v, false, nil
		}
		if n > uint64(b.max) {
			return dst[:0], v, false, fmt.Errorf("seqlock: version %d has length %d, the limit is %d: %w", v, n, b.max, ErrCorrupt)
		}
		dst = make([]byte, n)
	}
	dst = dst[:n]
	// STEP(read.4)
	copy(dst, data[:n])
	// STEP(read.5) SYNC(mb_seq): read-modify-write check ("read-don't-modify-write");
	// pairs with the writer's Swap to odd. See the package doc.
	again := atomic.AddUint64(seq, 0)
	return dst, v, again == s, nil
}

// stable reports whether the slot's sequence still holds s, with the same
// read-modify-write check as a copy.
func (b *Buffer) stable(seq *uint64, s uint64) bool {
	// STEP(read.3) STEP(read.5) SYNC(mb_seq): read-modify-write check; pairs with
	// the writer's Swap to odd.
	return atomic.AddUint64(seq, 0) == s
}

// lapped checks a slot sequence s that differs from 2v, where v is the latest
// version just loaded. It returns nil if the writer has lapped the reader,
// and ErrCorrupt if no correct writer could have left s there.
func (b *Buffer) lapped(v, s uint64) error {
	// STEP(read.2) A correct writer completes slot v (2v) before it stores latest = v, and
	// then writes version v+N, marking 2(v+N)+1, in this slot before any other
	// value: s is 2v, or at least 2(v+N).
	if s < 2*(v+b.slots) {
		return fmt.Errorf("seqlock: version %d in a slot with sequence %d: %w", v, s, ErrCorrupt)
	}
	if b.slots == 1 {
		return nil // the writer is writing v+1 (or died doing so): wait for it
	}
	// The writer stored latest = v+N-1 before it marked the slot for v+N, so
	// a new load of latest sees at least that.
	w, err := b.Version()
	if err != nil {
		return err
	}
	if w < v+b.slots-1 {
		return fmt.Errorf("seqlock: version %d after a slot sequence of %d in slot of version %d: %w", w, s, v, ErrCorrupt)
	}
	return nil
}
