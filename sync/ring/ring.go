// Package ring is a lock-free single-producer/single-consumer ring of
// variable-length records over a byte region, the data path of a shmchan
// channel. It knows nothing of mappings, processes or sleeping: it is the
// non-blocking core that package shm wraps with waits, roles and names.
//
// The region follows docs/layout.md. Positions are free-running uint64 byte
// counts masked by a power-of-two capacity (as in the kernel's circ_buf.h).
// A record is an 8-byte header (u32 length, u32 kind) and its payload, 8-byte
// aligned; a padding record fills the end of the region when the next record
// would not fit, so that every record is contiguous.
//
// Publication is in line, as in Aeron and the LMAX Disruptor: the producer
// writes the payload, then a zero terminator word where the next record will
// start, then stores the record's header atomically. The consumer polls the
// header word at its own position: zero means empty, anything else is a
// complete record. Polling the data itself (rather than a separate tail index
// on another cache line) lets one cache-line transfer carry both the
// "something is there" signal and the first bytes of the message. It did not
// make the channel faster: docs/design.md records 260-290 ns per 64-byte
// round trip with either scheme (about 2.5 times the cache-line floor); it
// stays because it is no slower, needs no shared tail, and lets a new producer
// find its place from the records themselves. The consumer publishes
// its position (head) after each record, and the producer reloads head only
// when its process-local copy says the ring is full (rigtorp's SPSCQueue).
// The producer always leaves 8 bytes free for the terminator.
//
// Memory ordering. The producer's header store and the consumer's header
// load are sync/atomic operations on the same aligned word: the Go memory
// model says an atomic store observed by an atomic load "synchronizes before"
// it, with the semantics of C++ sequentially consistent atomics, so the
// payload and terminator written before the header are visible to the
// consumer that saw the header. A C peer pairs with memory_order_release
// stores and memory_order_acquire loads (or stronger). The head store is
// sequentially consistent too, which package shm's parked-flag handshake
// relies on.
//
// The other side's bytes are untrusted. Every header is read once into a
// local and checked before use (kind, length, bounds within the region and
// within one capacity of the last released position), head is checked
// against the producer's own position, and a violation returns ErrCorrupt:
// never a panic, never an access outside the region. A hostile peer can
// still change payload bytes under a reader that holds a Peek slice; copying
// them out (TryRead) gives a snapshot.
package ring

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync/atomic"
	"unsafe"

	"github.com/shmchan/shmchan/internal/layout"
)

// geometry is the part both sides share.
type geometry struct {
	head *uint64 // shared: written by the consumer
	data []byte  // the region; len(data) == capacity
	mask uint64
	max  uint64 // largest payload
}

func newGeometry(head *uint64, data []byte) (geometry, error) {
	c := uint64(len(data))
	if c < 64 || bits.OnesCount64(c) != 1 {
		return geometry{}, fmt.Errorf("ring: capacity %d is not a power of two >= 64: %w", c, ErrCorrupt)
	}
	if uintptr(unsafe.Pointer(unsafe.SliceData(data)))%8 != 0 {
		return geometry{}, fmt.Errorf("ring: region not 8-byte aligned: %w", ErrCorrupt)
	}
	return geometry{head: head, data: data, mask: c - 1, max: layout.ChanMaxMessage(c)}, nil
}

// Capacity returns the region's size in bytes.
func (g *geometry) Capacity() int { return len(g.data) }

// MaxMessage returns the largest payload a record can carry: capacity/2 - 8.
func (g *geometry) MaxMessage() int { return int(g.max) }

// word returns the header word at position at (a multiple of 8 below the
// capacity, which every caller ensures).
func (g *geometry) word(at uint64) *uint64 {
	return (*uint64)(unsafe.Pointer(&g.data[at]))
}

// header packs a record header as the little-endian u64 whose low half is
// the length and high half the kind (docs/layout.md).
func header(n uint64, kind uint64) uint64 { return kind<<32 | n }

// record checks the header hdr found at position at (with room bytes to the
// end of the region) and returns the bytes the record occupies, whether it
// is padding, and its payload length.
func (g *geometry) record(hdr, at uint64) (step uint64, pad bool, n uint64, err error) {
	n, kind := hdr&0xFFFFFFFF, hdr>>32
	room := uint64(len(g.data)) - at
	switch kind {
	case layout.ChanKindPadding:
		if at == 0 || n != room-layout.ChanRecordHeader {
			return 0, false, 0, fmt.Errorf("ring: padding of %d bytes at %d (%d to the end): %w", n, at, room, ErrCorrupt)
		}
		return room, true, 0, nil
	case layout.ChanKindMessage:
		step = layout.ChanRecordHeader + layout.Align8(n)
		if n > g.max || step > room {
			return 0, false, 0, fmt.Errorf("ring: record of %d bytes at %d (%d to the end, max %d): %w", n, at, room, g.max, ErrCorrupt)
		}
		return step, false, n, nil
	}
	return 0, false, 0, fmt.Errorf("ring: record kind %d at %d: %w", kind, at, ErrCorrupt)
}

// Producer writes records. Exactly one goroutine of one process may use a
// Producer at a time; it is not safe for concurrent use.
type Producer struct {
	geometry
	pos        uint64 // where the next record goes
	cachedHead uint64 // last head we loaded; head only grows, so it is conservative

	// The pending reservation, if resv >= 0.
	resv   int    // reserved payload length, or -1
	resPad uint64 // padding bytes before the record
}

// NewProducer attaches a producer to the ring whose consumer position is
// head. It takes up the stream where the records end: starting at head, it
// walks the published records to the first zero header. A restarted
// producer therefore continues after the last record its dead predecessor
// published, and overwrites neither that nor anything unread.
func NewProducer(head *uint64, data []byte) (*Producer, error) {
	g, err := newGeometry(head, data)
	if err != nil {
		return nil, err
	}
	// STEP(takeover_tx.1) SYNC(head): acquire; pairs with the store in Consumer.Release.
	h := atomic.LoadUint64(head)
	if h%8 != 0 {
		return nil, fmt.Errorf("ring: head %d not a multiple of 8: %w", h, ErrCorrupt)
	}
	pos := h
	for {
		at := pos & g.mask
		// STEP(takeover_tx.2) SYNC(record): acquire; pairs with the header store in Commit.
		hdr := atomic.LoadUint64(g.word(at))
		if hdr == 0 {
			break
		}
		step, _, _, err := g.record(hdr, at)
		if err != nil {
			return nil, err
		}
		if pos+step-h > uint64(len(data))-layout.ChanRecordHeader {
			return nil, fmt.Errorf("ring: records from head %d run past one capacity: %w", h, ErrCorrupt)
		}
		pos += step
	}
	return &Producer{geometry: g, pos: pos, cachedHead: h, resv: -1}, nil
}

// TryReserve reserves room for a payload of n bytes and returns it as a
// slice of the ring, for the caller to fill before Commit. It returns
// ErrTooLarge if n exceeds MaxMessage and ErrFull if there is no room now.
// Calling TryReserve again before Commit, whether it succeeds or fails,
// abandons the earlier reservation; nothing of it becomes visible. The slice
// is valid until Commit.
func (p *Producer) TryReserve(n int) ([]byte, error) {
	p.resv = -1
	if n < 0 || uint64(n) > p.max {
		return nil, ErrTooLarge
	}
	rec := layout.ChanRecordHeader + layout.Align8(uint64(n))
	at := p.pos & p.mask
	var pad uint64
	if at+rec > uint64(len(p.data)) {
		pad = uint64(len(p.data)) - at // fill to the end; the record starts at 0
	}
	need := pad + rec + layout.ChanRecordHeader // and the terminator after it
	if p.pos+need-p.cachedHead > uint64(len(p.data)) {
		// STEP(send.2) SYNC(head): acquire; pairs with the store in Consumer.Release. The
		// consumer is done with every byte before it.
		h := atomic.LoadUint64(p.head)
		if h < p.cachedHead || h > p.pos || h%8 != 0 {
			return nil, fmt.Errorf("ring: head moved from %d to %d with the producer at %d: %w", p.cachedHead, h, p.pos, ErrCorrupt)
		}
		p.cachedHead = h
		if p.pos+need-h > uint64(len(p.data)) {
			return nil, ErrFull
		}
	}
	p.resv, p.resPad = n, pad
	start := (p.pos+pad)&p.mask + layout.ChanRecordHeader
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
	at := p.pos & p.mask
	recAt := (p.pos + p.resPad) & p.mask
	step := layout.ChanRecordHeader + layout.Align8(uint64(m))
	// STEP(send.4) The terminator: the consumer, having read this record, finds zero
	// where the next one goes until that one is published. It lies in the
	// 8 bytes TryReserve kept free.
	// (A store through word: binary.LittleEndian.PutUint64 on a subslice cost
	// 14 instructions here, this 4; callgrind, docs/design.md.)
	*p.word((recAt + step) & p.mask) = 0
	hdr := header(uint64(m), layout.ChanKindMessage)
	if p.resPad > 0 {
		// STEP(send.5) The record at 0 first, then the padding that leads to it.
		binary.LittleEndian.PutUint64(p.data[recAt:], hdr)
		at, hdr = p.pos&p.mask, header(p.resPad-layout.ChanRecordHeader, layout.ChanKindPadding)
	}
	p.pos += p.resPad + step
	p.resv = -1
	// STEP(send.6) SYNC(record): release (seq_cst); publishes the payload, the terminator
	// (and a record behind padding) written above; pairs with the acquire
	// load in Consumer.TryPeek.
	atomic.StoreUint64(p.word(at), hdr)
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
// higher. It counts the 8 bytes kept for the terminator as used. Padding can
// make the largest record that fits smaller than Free.
func (p *Producer) Free() int {
	// SYNC(head): acquire; pairs with the store in Consumer.Release.
	h := atomic.LoadUint64(p.head)
	if h < p.cachedHead || h > p.pos {
		h = p.cachedHead // corrupt: report what we last trusted
	}
	return len(p.data) - layout.ChanRecordHeader - int(p.pos-h)
}

// Consumer reads records. Exactly one goroutine of one process may use a
// Consumer at a time; it is not safe for concurrent use.
type Consumer struct {
	geometry
	pos      uint64 // where the next record is
	released uint64 // the head we last stored
	next     uint64 // position after the peeked record, if peeked
	peeked   bool
}

// NewConsumer attaches a consumer to the ring, taking up the stream where the
// shared head says it is (a record a dead predecessor peeked but did not
// release is delivered again).
func NewConsumer(head *uint64, data []byte) (*Consumer, error) {
	g, err := newGeometry(head, data)
	if err != nil {
		return nil, err
	}
	// STEP(takeover_rx.1) SYNC(head): acquire; our own (or a dead predecessor's) last release.
	h := atomic.LoadUint64(head)
	if h%8 != 0 {
		return nil, fmt.Errorf("ring: head %d not a multiple of 8: %w", h, ErrCorrupt)
	}
	return &Consumer{geometry: g, pos: h, released: h}, nil
}

// TryPeek returns the next message as a slice of the ring, without copying
// it, or ErrEmpty if there is none now. The message stays in the ring (and
// TryPeek returns it again) until Release. The slice is valid until Release.
func (c *Consumer) TryPeek() ([]byte, error) {
	for {
		at := c.pos & c.mask
		// STEP(recv.1) SYNC(record): acquire; pairs with the header store in
		// Producer.Commit: the payload and the terminator are written.
		hdr := atomic.LoadUint64(c.word(at))
		if hdr == 0 {
			return nil, ErrEmpty
		}
		// STEP(recv.3) Check the record (geometry.record) and that it ends within capacity - 8 of head.
		// A message record that fits is checked here, in line: the call to
		// record cost 31 instructions a message (callgrind, docs/design.md).
		n := hdr & 0xFFFFFFFF
		step, pad := layout.ChanRecordHeader+layout.Align8(n), false
		if hdr>>32 != layout.ChanKindMessage || n > c.max || step > uint64(len(c.data))-at {
			var err error
			if step, pad, n, err = c.record(hdr, at); err != nil {
				return nil, err
			}
		}
		if c.pos+step-c.released > uint64(len(c.data))-layout.ChanRecordHeader {
			return nil, fmt.Errorf("ring: record at %d runs past one capacity from head %d: %w", c.pos, c.released, ErrCorrupt)
		}
		// STEP(recv.4)
		if pad {
			c.pos += step // skipped; the next Release publishes it
			continue
		}
		// STEP(recv.5)
		c.next, c.peeked = c.pos+step, true
		start := at + layout.ChanRecordHeader
		return c.data[start : start+n : start+n], nil
	}
}

// Release frees the message returned by the last TryPeek, letting the
// producer reuse its space. It returns ErrNoReservation if nothing is peeked.
func (c *Consumer) Release() error {
	if !c.peeked {
		return ErrNoReservation
	}
	c.pos, c.peeked = c.next, false
	c.released = c.pos
	// STEP(release.1) SYNC(head): release (seq_cst); we are done reading every byte before
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

// TryWriteBatch copies as many of msgs as fit now into the ring, in order,
// and publishes them all with one store: it returns how many it wrote, and
// their payload bytes (which the loop adds up anyway, so that a caller that
// counts bytes need not walk msgs again). It
// returns 0 and ErrFull if not even msgs[0] fits, and 0 and ErrTooLarge if
// msgs[0] exceeds MaxMessage; a later message that is too large or does not
// fit ends the batch before it (the next call reports it). An empty msgs
// writes nothing and returns 0, nil. A pending reservation is abandoned.
//
// The batch needs no layout change (docs/layout.md, "Send a batch"): the
// records after the first are written completely, headers included, with
// plain stores, then the terminator after the last, and the first record's
// header is stored last. A consumer that loads that header (acquire) sees
// every byte of the batch, and reads the later headers as it reads any
// header, so a consumer that knows nothing of batches reads one correctly.
func (p *Producer) TryWriteBatch(msgs [][]byte) (int, int, error) {
	p.resv = -1
	if len(msgs) == 0 {
		return 0, 0, nil
	}
	// Locals, not fields, in the loop: the copy is a call, after which the
	// compiler would reload every field it reads.
	var (
		data     = p.data
		mask     = p.mask
		capacity = uint64(len(data))
		max      = p.max
		cached   = p.cachedHead
		pos      = p.pos
		firstAt  uint64 // the header word that publishes the batch
		firstHdr uint64
		n, bytes int
	)
	for _, msg := range msgs {
		size := uint64(len(msg))
		if size > max {
			if n == 0 {
				return 0, 0, ErrTooLarge
			}
			break
		}
		rec := layout.ChanRecordHeader + layout.Align8(size)
		at := pos & mask
		var pad uint64
		if at+rec > capacity {
			pad = capacity - at
		}
		if pos+pad+rec+layout.ChanRecordHeader-cached > capacity { // and the terminator after it
			// STEP(send_batch.1) SYNC(head): acquire; pairs with the store in Consumer.Release
			// and Consumer.TryReadBatch. The consumer is done with every byte before it.
			h := atomic.LoadUint64(p.head)
			if h < p.cachedHead || h > p.pos || h%8 != 0 {
				return 0, 0, fmt.Errorf("ring: head moved from %d to %d with the producer at %d: %w", p.cachedHead, h, p.pos, ErrCorrupt)
			}
			p.cachedHead, cached = h, h
			if pos+pad+rec+layout.ChanRecordHeader-h > capacity {
				if n == 0 {
					return 0, 0, ErrFull
				}
				break
			}
		}
		recAt := (pos + pad) & mask
		// STEP(send_batch.2) The payload.
		copy(data[recAt+layout.ChanRecordHeader:], msg)
		hdr := header(size, layout.ChanKindMessage)
		hdrAt := recAt
		if pad > 0 {
			// STEP(send_batch.3) Behind padding: the message's header at 0 (plain); the
			// padding's header is the one that publishes it.
			binary.LittleEndian.PutUint64(data[recAt:], hdr)
			hdrAt, hdr = at, header(pad-layout.ChanRecordHeader, layout.ChanKindPadding)
		}
		if n == 0 {
			firstAt, firstHdr = hdrAt, hdr
		} else {
			// STEP(send_batch.4) A later record's header (plain): the first record's header
			// publishes it, and the consumer cannot reach it before that.
			binary.LittleEndian.PutUint64(data[hdrAt:], hdr)
		}
		pos += pad + rec
		n++
		bytes += int(size)
	}
	// STEP(send_batch.5) One terminator, after the last record, in the 8 bytes kept free.
	binary.LittleEndian.PutUint64(data[pos&mask:], 0)
	p.pos = pos
	// STEP(send_batch.6) SYNC(record): release (seq_cst); the first record's header, last:
	// publishes every byte of the batch written above; pairs with the acquire load
	// in Consumer.TryPeek and Consumer.TryReadBatch.
	atomic.StoreUint64(p.word(firstAt), firstHdr)
	return n, bytes, nil
}

// TryReadBatch reads up to len(msgs) messages: the i-th is appended to
// msgs[i][:0] (so a large enough msgs[i] takes it without allocation), and
// the space of all of them is released with one store of head. It returns
// how many it read and their payload bytes, or 0 and ErrEmpty if there is
// none now. A record that
// breaks the layout after the first ends the batch before it (the next call
// returns ErrCorrupt). A peeked message is read again, as the first. An
// empty msgs reads nothing and returns 0, nil.
func (c *Consumer) TryReadBatch(msgs [][]byte) (int, int, error) {
	c.peeked = false
	if len(msgs) == 0 {
		return 0, 0, nil
	}
	var (
		data     = c.data
		mask     = c.mask
		capacity = uint64(len(data))
		max      = c.max
		released = c.released
		room     = capacity - layout.ChanRecordHeader // no record ends further than this from released
		pos      = c.pos
		n, bytes int
	)
	for n < len(msgs) {
		at := pos & mask
		// STEP(recv_batch.1) SYNC(record): acquire; pairs with the header store in
		// Producer.Commit or Producer.TryWriteBatch (whose later headers were
		// written before the first one's store).
		hdr := atomic.LoadUint64((*uint64)(unsafe.Pointer(&data[at])))
		if hdr == 0 {
			break
		}
		// STEP(recv_batch.2) Check the record as recv.3 does, against the released
		// position: a message inline, padding and anything odd by geometry.record.
		size := hdr & 0xFFFFFFFF
		step := layout.ChanRecordHeader + layout.Align8(size)
		if hdr>>32 != layout.ChanKindMessage || size > max || at+step > capacity || pos+step-released > room {
			step, pad, _, err := c.record(hdr, at)
			if err == nil && pos+step-released > room {
				err = fmt.Errorf("ring: record at %d runs past one capacity from head %d: %w", pos, c.released, ErrCorrupt)
			}
			if err != nil {
				if n == 0 {
					c.pos = pos
					return 0, 0, err
				}
				break
			}
			if pad {
				pos += step
				continue
			}
			// A message checked by record is checked above: not reached.
			return 0, 0, fmt.Errorf("ring: record at %d: %w", pos, ErrCorrupt)
		}
		// STEP(recv_batch.3) Copy the message out.
		start := at + layout.ChanRecordHeader
		msgs[n] = append(msgs[n][:0], data[start:start+size]...)
		pos += step
		n++
		bytes += int(size)
	}
	if n == 0 {
		c.pos = pos // padding skipped; published with the next release
		return 0, 0, ErrEmpty
	}
	c.pos, c.released = pos, pos
	// STEP(recv_batch.4) SYNC(head): release (seq_cst); one store for the whole batch: we
	// are done reading every byte before it; pairs with the acquire load in
	// Producer.TryReserve and Producer.TryWriteBatch.
	atomic.StoreUint64(c.head, pos)
	return n, bytes, nil
}
