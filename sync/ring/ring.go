// Package ring is a lock-free single-producer/single-consumer ring of
// variable-length records over a byte region, the data path of a shmchan
// channel. It knows nothing of mappings, processes or sleeping: it is the
// non-blocking core that package shm wraps with waits, roles and names.
//
// The region and its two indices follow docs/layout.md: tail and head are
// free-running uint64 byte counts masked by a power-of-two capacity (as in the
// kernel's circ_buf.h); records are a u32 length and a u32 kind followed by the
// payload, 8-byte aligned, and a padding record fills the end of the region
// when the next record would not fit, so that every record is contiguous.
// Each side keeps a process-local copy of the other side's index and reloads
// the shared one only when its copy says the ring is full (producer) or empty
// (consumer), as rigtorp's SPSCQueue does: in steady streaming each side
// touches the other's cache line about once per batch, not once per record.
//
// Memory ordering. The producer writes a record with plain stores and then
// stores tail with sync/atomic; the consumer loads tail with sync/atomic and
// then reads the record. The Go memory model says an atomic store that is
// observed by an atomic load "synchronizes before" it, with the semantics of
// C++ sequentially consistent atomics; a C peer that stores with
// memory_order_release (or stronger) and loads with memory_order_acquire (or
// stronger) pairs with it. Go offers no weaker order, so every index store is
// sequentially consistent, which the parked-flag handshake in package shm
// relies on.
//
// The other side's bytes are untrusted. Every index loaded from shared memory
// is checked against the local one (head <= tail <= head+capacity, multiples of
// 8), every record header is read once into a local and checked before use,
// and a violation returns ErrCorrupt: never a panic, never an access outside
// the region. A hostile peer can still change payload bytes under a reader
// that holds a Peek slice; copying them out (Consumer.Read) gives a snapshot.
package ring

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync/atomic"

	"github.com/shmchan/shmchan/internal/layout"
)

// geometry is the part both sides share.
type geometry struct {
	tail *uint64 // shared: written by the producer
	head *uint64 // shared: written by the consumer
	data []byte  // the region; len(data) == capacity
	mask uint64
	max  uint64 // largest payload
}

func newGeometry(tail, head *uint64, data []byte) (geometry, error) {
	c := uint64(len(data))
	if c < 16 || bits.OnesCount64(c) != 1 {
		return geometry{}, fmt.Errorf("ring: capacity %d is not a power of two >= 16: %w", c, ErrCorrupt)
	}
	return geometry{tail: tail, head: head, data: data, mask: c - 1, max: layout.MaxMessage(c)}, nil
}

// Capacity returns the region's size in bytes.
func (g *geometry) Capacity() int { return len(g.data) }

// MaxMessage returns the largest payload a record can carry: capacity/2 - 8.
func (g *geometry) MaxMessage() int { return int(g.max) }

// checkIndices validates a head/tail pair read (at least in part) from
// shared memory.
func (g *geometry) checkIndices(head, tail uint64) error {
	if head%8 != 0 || tail%8 != 0 || tail-head > uint64(len(g.data)) {
		return fmt.Errorf("ring: indices head=%d tail=%d (capacity %d): %w", head, tail, len(g.data), ErrCorrupt)
	}
	return nil
}

// Producer writes records. Exactly one goroutine of one process may use a
// Producer at a time; it is not safe for concurrent use.
type Producer struct {
	geometry
	pos        uint64 // our tail: only we write the shared one
	cachedHead uint64 // last head we loaded; head only grows, so it is conservative

	// The pending reservation, if resv >= 0.
	resv   int    // reserved payload length, or -1
	resPad uint64 // padding bytes before the record
}

// NewProducer attaches a producer to the ring at tail, head and data, taking
// up the stream where the shared tail says it is (a restarted producer does
// not overwrite what the consumer has not read).
func NewProducer(tail, head *uint64, data []byte) (*Producer, error) {
	g, err := newGeometry(tail, head, data)
	if err != nil {
		return nil, err
	}
	// SYNC(tail): acquire; our own (or a dead predecessor's) last publication.
	t := atomic.LoadUint64(tail)
	// SYNC(head): acquire; pairs with the store in Consumer.Release.
	h := atomic.LoadUint64(head)
	if err := g.checkIndices(h, t); err != nil {
		return nil, err
	}
	return &Producer{geometry: g, pos: t, cachedHead: h, resv: -1}, nil
}

// TryReserve reserves room for a payload of n bytes and returns it as a
// slice of the ring, for the caller to fill before Commit. It returns
// ErrTooLarge if n exceeds MaxMessage and ErrFull if there is no room now.
// Reserving again before Commit abandons the earlier reservation; nothing of
// it becomes visible. The slice is valid until Commit.
func (p *Producer) TryReserve(n int) ([]byte, error) {
	if n < 0 || uint64(n) > p.max {
		return nil, ErrTooLarge
	}
	rec := layout.RecordHeader + layout.Align8(uint64(n))
	at := p.pos & p.mask
	var pad uint64
	if at+rec > uint64(len(p.data)) {
		pad = uint64(len(p.data)) - at // fill to the end; the record starts at 0
	}
	need := pad + rec
	if p.pos+need-p.cachedHead > uint64(len(p.data)) {
		// SYNC(head): acquire; pairs with the store in Consumer.Release. The
		// consumer is done with every byte before it.
		h := atomic.LoadUint64(p.head)
		if h < p.cachedHead || h > p.pos {
			return nil, fmt.Errorf("ring: head moved from %d to %d with tail %d: %w", p.cachedHead, h, p.pos, ErrCorrupt)
		}
		if err := p.checkIndices(h, p.pos); err != nil {
			return nil, err
		}
		p.cachedHead = h
		if p.pos+need-h > uint64(len(p.data)) {
			return nil, ErrFull
		}
	}
	p.resv, p.resPad = n, pad
	start := (p.pos+pad)&p.mask + layout.RecordHeader
	return p.data[start : start+uint64(n) : start+uint64(n)], nil
}

// Commit publishes the first m bytes of the pending reservation as one
// record (m may be less than what was reserved). It returns
// ErrNoReservation without a reservation and ErrTooLarge if m exceeds it.
func (p *Producer) Commit(m int) error {
	if p.resv < 0 {
		return ErrNoReservation
	}
	if m < 0 || m > p.resv {
		return fmt.Errorf("ring: commit %d bytes of a %d-byte reservation: %w", m, p.resv, ErrTooLarge)
	}
	if p.resPad > 0 {
		at := p.pos & p.mask
		putHeader(p.data[at:], uint32(p.resPad-layout.RecordHeader), layout.KindPadding)
	}
	at := (p.pos + p.resPad) & p.mask
	putHeader(p.data[at:], uint32(m), layout.KindMessage)
	p.pos += p.resPad + layout.RecordHeader + layout.Align8(uint64(m))
	p.resv = -1
	// SYNC(tail): release (seq_cst); publishes the padding, header and payload
	// written above; pairs with the acquire load in Consumer.TryPeek.
	atomic.StoreUint64(p.tail, p.pos)
	return nil
}

// TryWrite copies msg into the ring as one record: TryReserve, copy, Commit.
func (p *Producer) TryWrite(msg []byte) error {
	buf, err := p.TryReserve(len(msg))
	if err != nil {
		return err
	}
	copy(buf, msg)
	return p.Commit(len(msg))
}

// Free returns the bytes free for records as far as the producer knows: it
// may be lower than the truth (the consumer may have read more since), never
// higher. Padding can make the largest record that fits smaller than Free.
func (p *Producer) Free() int {
	// SYNC(head): acquire; pairs with the store in Consumer.Release.
	h := atomic.LoadUint64(p.head)
	if h < p.cachedHead || h > p.pos {
		h = p.cachedHead // corrupt: report what we last trusted
	}
	return len(p.data) - int(p.pos-h)
}

// Consumer reads records. Exactly one goroutine of one process may use a
// Consumer at a time; it is not safe for concurrent use.
type Consumer struct {
	geometry
	pos        uint64 // our head: only we write the shared one
	cachedTail uint64 // last tail we loaded
	next       uint64 // head after the peeked record, if peeked
	peeked     bool
}

// NewConsumer attaches a consumer to the ring, taking up the stream where the
// shared head says it is (a record a dead predecessor peeked but did not
// release is delivered again).
func NewConsumer(tail, head *uint64, data []byte) (*Consumer, error) {
	g, err := newGeometry(tail, head, data)
	if err != nil {
		return nil, err
	}
	// SYNC(head): acquire; our own (or a dead predecessor's) last release.
	h := atomic.LoadUint64(head)
	// SYNC(tail): acquire; pairs with the store in Producer.Commit.
	t := atomic.LoadUint64(tail)
	if err := g.checkIndices(h, t); err != nil {
		return nil, err
	}
	return &Consumer{geometry: g, pos: h, cachedTail: t}, nil
}

// TryPeek returns the next message as a slice of the ring, without copying
// it, or ErrEmpty if there is none now. The message stays in the ring (and
// TryPeek returns it again) until Release. The slice is valid until Release.
func (c *Consumer) TryPeek() ([]byte, error) {
	for {
		if c.pos == c.cachedTail {
			// SYNC(tail): acquire; pairs with the store in Producer.Commit:
			// every record byte before tail is written.
			t := atomic.LoadUint64(c.tail)
			if t == c.pos {
				return nil, ErrEmpty
			}
			if t < c.cachedTail {
				return nil, fmt.Errorf("ring: tail moved back from %d to %d: %w", c.cachedTail, t, ErrCorrupt)
			}
			if err := c.checkIndices(c.pos, t); err != nil {
				return nil, err
			}
			c.cachedTail = t
		}
		at := c.pos & c.mask
		avail := c.cachedTail - c.pos // a multiple of 8, at least 8
		room := uint64(len(c.data)) - at
		// Read the header once; everything below uses these locals.
		n := uint64(binary.LittleEndian.Uint32(c.data[at:]))
		kind := binary.LittleEndian.Uint32(c.data[at+4:])
		switch kind {
		case layout.KindPadding:
			if n != room-layout.RecordHeader || room > avail {
				return nil, fmt.Errorf("ring: padding of %d bytes at %d (%d to the end, %d published): %w", n, at, room, avail, ErrCorrupt)
			}
			c.pos += room // skipped; the next Release publishes it
			if c.peeked {
				c.next = c.pos
			}
		case layout.KindMessage:
			rec := layout.RecordHeader + layout.Align8(n)
			if n > c.max || rec > avail || rec > room {
				return nil, fmt.Errorf("ring: record of %d bytes at %d (%d published, max %d): %w", n, at, avail, c.max, ErrCorrupt)
			}
			c.next, c.peeked = c.pos+rec, true
			start := at + layout.RecordHeader
			return c.data[start : start+n : start+n], nil
		default:
			return nil, fmt.Errorf("ring: record kind %d at %d: %w", kind, at, ErrCorrupt)
		}
	}
}

// Release frees the message returned by the last TryPeek, letting the
// producer reuse its space. It returns ErrNoReservation if nothing is peeked.
func (c *Consumer) Release() error {
	if !c.peeked {
		return ErrNoReservation
	}
	c.pos, c.peeked = c.next, false
	// SYNC(head): release (seq_cst); we are done reading every byte before
	// it; pairs with the acquire load in Producer.TryReserve.
	atomic.StoreUint64(c.head, c.pos)
	return nil
}

// TryRead appends the next message to dst, releases it, and returns the
// extended slice; ErrEmpty if there is none now.
func (c *Consumer) TryRead(dst []byte) ([]byte, error) {
	msg, err := c.TryPeek()
	if err != nil {
		return dst, err
	}
	dst = append(dst, msg...)
	return dst, c.Release()
}

// Len returns the bytes of records published and not yet released, as far
// as the consumer knows: it may be lower than the truth, never higher.
func (c *Consumer) Len() int {
	// SYNC(tail): acquire; pairs with the store in Producer.Commit.
	t := atomic.LoadUint64(c.tail)
	if c.checkIndices(c.pos, t) != nil || t < c.cachedTail {
		t = c.cachedTail
	}
	return int(t - c.pos)
}

func putHeader(b []byte, n uint32, kind uint32) {
	binary.LittleEndian.PutUint32(b, n)
	binary.LittleEndian.PutUint32(b[4:], kind)
}
