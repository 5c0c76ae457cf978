package ring_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/shmchan/shmchan/sync/ring"
)

// Record framing, spelled out from docs/layout.md rather than taken from
// internal/layout, so that the model checks the code against the contract:
// a record is an 8-byte header (u32 length, u32 kind, little-endian) and its
// payload padded to a multiple of 8; a zero header word means "nothing
// published here yet", so the producer always leaves one zero word (the
// terminator) after the last record.
const (
	hdr         = 8 // u32 len, u32 kind
	kindMessage = 1
	kindPadding = 2
)

func align8(n uint64) uint64 { return (n + 7) &^ 7 }

// shared is the consumer's shared index on a line of its own, 8-byte
// aligned as in a channel header.
type shared struct {
	head uint64
	_    [120]byte
}

// newRegion returns a zeroed, 8-byte-aligned region of n bytes.
func newRegion(n int) []byte {
	words := make([]uint64, (n+7)/8+1)
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), n)
}

// offsetIn returns the offset of b's first byte in region, or -1 if b does
// not lie wholly (up to its capacity) inside region. A nil b is at 0.
func offsetIn(region, b []byte) int {
	if b == nil {
		return 0
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(region)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if p < base || p-base > uintptr(len(region)) || p-base+uintptr(cap(b)) > uintptr(len(region)) {
		return -1
	}
	return int(p - base)
}

// payload returns n bytes that depend on seq and on their position, so that
// a stale or shifted copy does not pass for the right one.
func payload(seq, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seq*151 + i*31 + i>>8 + 1)
	}
	return b
}

// putRecord writes a record header at place at.
func putRecord(data []byte, at uint64, n, kind uint32) {
	binary.LittleEndian.PutUint32(data[at:], n)
	binary.LittleEndian.PutUint32(data[at+4:], kind)
}

// fataler is what pair needs of a *testing.T or a *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// pair attaches a producer and a consumer to the ring.
func pair(t fataler, s *shared, data []byte) (*ring.Producer, *ring.Consumer) {
	t.Helper()
	p, err := ring.NewProducer(&s.head, data)
	if err != nil {
		t.Fatalf("NewProducer(head %d, %d bytes): %v", s.head, len(data), err)
	}
	c, err := ring.NewConsumer(&s.head, data)
	if err != nil {
		t.Fatalf("NewConsumer(head %d, %d bytes): %v", s.head, len(data), err)
	}
	return p, c
}

// modelRecord is a message in the model: the padding published before it
// and its payload.
type modelRecord struct {
	pad uint64
	msg []byte
}

// span is the number of ring bytes the record (with its padding) occupies.
func (r modelRecord) span() uint64 { return r.pad + hdr + align8(uint64(len(r.msg))) }

// model is the ring as docs/layout.md describes it, over a plain slice of
// messages: what the producer has published and the consumer not released.
type model struct {
	capacity uint64
	end      uint64        // the sender's position: where the terminator is
	head     uint64        // the shared head as it must be
	queue    []modelRecord // published, not released, oldest first
	peeked   bool          // queue[0] is peeked

	resv   int    // reserved payload length, or -1
	resPad uint64 // padding before the reserved record
	resMsg []byte // what the test wrote into the reservation
}

func (m *model) max() int { return int(m.capacity/2 - hdr) }

// place returns the padding a record of payload n needs at the sender's
// position, and the bytes it takes there: the record goes at that place
// unless it would cross the end of the region, in which case a padding
// record fills the region to its end and the record starts at 0.
func (m *model) place(n int) (pad, need uint64) {
	at := m.end % m.capacity
	rec := hdr + align8(uint64(n))
	if at+rec > m.capacity {
		pad = m.capacity - at
	}
	return pad, pad + rec
}

// fits reports whether a record of payload n fits now: "a record of need
// bytes (padding included) may be written only if sender_position + need + 8
// - head <= capacity", the 8 being the terminator's.
func (m *model) fits(n int) bool {
	_, need := m.place(n)
	return m.end+need+hdr-m.head <= m.capacity
}

// coverage counts the interesting outcomes across a TestRingModel run, so
// that the test can check it exercised them.
type coverage struct {
	padded, full, tooLarge, wrapped, empty, restarts int
	batches, batchPadded                             int // batches of two or more; padding before a batch's later record
}

// machine drives a Producer and a Consumer over one ring and checks each
// step against the model.
type machine struct {
	sh   *shared
	data []byte
	p    *ring.Producer
	c    *ring.Consumer
	m    model
	seq  int
	cov  *coverage
}

func newMachine(t *rapid.T, cov *coverage) *machine {
	capacity := rapid.SampledFrom([]int{64, 128, 256, 512, 1024, 4096}).Draw(t, "capacity")
	// Start the free-running position at an arbitrary multiple of 8, so
	// that the first record is not always at 0.
	start := 8 * rapid.Uint64Range(0, uint64(capacity/4)).Draw(t, "start/8")
	s := &machine{sh: &shared{head: start}, data: newRegion(capacity), cov: cov}
	s.m = model{capacity: uint64(capacity), end: start, head: start, resv: -1}
	s.p, s.c = pair(t, s.sh, s.data)
	if got, want := s.p.MaxMessage(), s.m.max(); got != want {
		t.Fatalf("MaxMessage() = %d, want capacity/2-8 = %d", got, want)
	}
	if got := s.c.Capacity(); got != capacity {
		t.Fatalf("Capacity() = %d, want %d", got, capacity)
	}
	return s
}

// size draws a payload length, favouring the edges: 0, the maximum, one
// past it, and the lengths that exactly fill the region to its end or need
// padding by a single word.
func (s *machine) size(t *rapid.T) int {
	max := s.m.max()
	toEnd := int(s.m.capacity-s.m.end%s.m.capacity) - hdr // fills to the end, no padding
	edges := []int{0, 1, 7, 8, 9, max - 1, max, max + 1, toEnd - 8, toEnd - 1, toEnd, toEnd + 1, toEnd + 8, -1}
	return rapid.OneOf(
		rapid.IntRange(0, max),
		rapid.IntRange(0, 24),
		rapid.SampledFrom(edges),
	).Draw(t, "n")
}

// expectWrite returns the error a write of n bytes must give now.
func (s *machine) expectWrite(n int) error {
	switch {
	case n < 0 || n > s.m.max():
		s.cov.tooLarge++
		return ring.ErrTooLarge
	case !s.m.fits(n):
		s.cov.full++
		return ring.ErrFull
	}
	return nil
}

func (s *machine) unchanged(t *rapid.T, op string, before []byte, head uint64) {
	t.Helper()
	if s.sh.head != head {
		t.Fatalf("%s: head moved from %d to %d", op, head, s.sh.head)
	}
	if !bytes.Equal(s.data, before) {
		t.Fatalf("%s: a refused write changed the region", op)
	}
}

// published records msg in the model after a successful commit with the
// given padding, and checks its framing in the region.
func (s *machine) published(t *rapid.T, pad uint64, msg []byte) {
	t.Helper()
	at := s.m.end % s.m.capacity
	if pad > 0 {
		checkHeader(t, s.data, at, uint32(pad-hdr), kindPadding)
		if at+pad != s.m.capacity || at == 0 {
			t.Fatalf("padding at %d of %d bytes does not end at the region's end %d", at, pad, s.m.capacity)
		}
	}
	checkHeader(t, s.data, (s.m.end+pad)%s.m.capacity, uint32(len(msg)), kindMessage)
	r := modelRecord{pad: pad, msg: msg}
	s.m.queue = append(s.m.queue, r)
	if pad > 0 {
		s.cov.padded++
	}
	if (s.m.end+r.span())/s.m.capacity != s.m.end/s.m.capacity {
		s.cov.wrapped++
	}
	s.m.end += r.span()
}

func checkHeader(t *rapid.T, data []byte, at uint64, n, kind uint32) {
	t.Helper()
	gotN := binary.LittleEndian.Uint32(data[at:])
	gotKind := binary.LittleEndian.Uint32(data[at+4:])
	if gotN != n || gotKind != kind {
		t.Fatalf("record header at %d = (len %d, kind %d), want (len %d, kind %d)", at, gotN, gotKind, n, kind)
	}
}

func (s *machine) TryWrite(t *rapid.T) {
	n := max(s.size(t), 0) // a message has no negative length
	s.seq++
	msg := payload(s.seq, n)
	want := s.expectWrite(n)
	pad, _ := s.m.place(n)
	before, head := slices.Clone(s.data), s.sh.head
	err := s.p.TryWrite(msg)
	if !errors.Is(err, want) || (want == nil && err != nil) {
		t.Fatalf("TryWrite(%d bytes) = %v, want %v (end %d, head %d, capacity %d)", n, err, want, s.m.end, s.m.head, s.m.capacity)
	}
	s.m.resv, s.m.resMsg = -1, nil // TryWrite reserves anew, abandoning any reservation
	if want != nil {
		s.unchanged(t, "TryWrite", before, head)
		return
	}
	s.published(t, pad, msg)
}

func (s *machine) TryReserve(t *rapid.T) {
	n := s.size(t)
	want := s.expectWrite(n)
	pad, _ := s.m.place(n)
	before, head := slices.Clone(s.data), s.sh.head
	buf, err := s.p.TryReserve(n)
	if !errors.Is(err, want) || (want == nil && err != nil) {
		t.Fatalf("TryReserve(%d) = %v, want %v (end %d, head %d, capacity %d)", n, err, want, s.m.end, s.m.head, s.m.capacity)
	}
	if want != nil {
		// A failed reservation writes nothing and abandons an earlier one.
		s.m.resv, s.m.resMsg = -1, nil
		if buf != nil {
			t.Fatalf("TryReserve(%d) returned %d bytes with %v", n, len(buf), err)
		}
		s.unchanged(t, "TryReserve", before, head)
		return
	}
	if len(buf) != n || cap(buf) != n {
		t.Fatalf("TryReserve(%d): len %d, cap %d", n, len(buf), cap(buf))
	}
	// A slice of capacity 0 does not say where it points.
	wantAt := int((s.m.end+pad)%s.m.capacity + hdr)
	if at := offsetIn(s.data, buf); at < 0 || (n > 0 && at != wantAt) {
		t.Fatalf("TryReserve(%d) at offset %d, want %d (end %d, padding %d)", n, at, wantAt, s.m.end, pad)
	}
	s.seq++
	s.m.resv, s.m.resPad, s.m.resMsg = n, pad, payload(s.seq, n)
	copy(buf, s.m.resMsg)
}

func (s *machine) Commit(t *rapid.T) {
	m := rapid.IntRange(-1, max(s.m.resv, 0)+1).Draw(t, "m")
	err := s.p.Commit(m)
	switch {
	case s.m.resv < 0:
		if !errors.Is(err, ring.ErrNoReservation) {
			t.Fatalf("Commit(%d) without a reservation = %v, want ErrNoReservation", m, err)
		}
	case m < 0 || m > s.m.resv:
		// The reservation stays pending.
		if !errors.Is(err, ring.ErrTooLarge) {
			t.Fatalf("Commit(%d) of a %d-byte reservation = %v, want ErrTooLarge", m, s.m.resv, err)
		}
	default:
		if err != nil {
			t.Fatalf("Commit(%d) of a %d-byte reservation: %v", m, s.m.resv, err)
		}
		pad, msg := s.m.resPad, s.m.resMsg[:m]
		s.m.resv, s.m.resMsg = -1, nil
		s.published(t, pad, msg)
	}
}

func (s *machine) TryPeek(t *rapid.T) {
	msg, err := s.c.TryPeek()
	if len(s.m.queue) == 0 {
		s.cov.empty++
		if err != ring.ErrEmpty || msg != nil {
			t.Fatalf("TryPeek on an empty ring = %d bytes, %v; want ErrEmpty", len(msg), err)
		}
		return
	}
	r := s.m.queue[0]
	if err != nil {
		t.Fatalf("TryPeek: %v, want %d bytes", err, len(r.msg))
	}
	if diff := cmp.Diff(r.msg, msg, cmpBytes); diff != "" {
		t.Fatalf("TryPeek: message mismatch (-want +got):\n%s", diff)
	}
	wantAt := int((s.m.head+r.pad)%s.m.capacity + hdr)
	if at := offsetIn(s.data, msg); at < 0 || (len(msg) > 0 && at != wantAt) || cap(msg) != len(msg) {
		t.Fatalf("TryPeek: %d bytes at offset %d (cap %d), want offset %d", len(msg), at, cap(msg), wantAt)
	}
	s.m.peeked = true
}

func (s *machine) Release(t *rapid.T) {
	err := s.c.Release()
	if !s.m.peeked {
		if !errors.Is(err, ring.ErrNoReservation) {
			t.Fatalf("Release without TryPeek = %v, want ErrNoReservation", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	s.m.head += s.m.queue[0].span()
	s.m.queue = s.m.queue[1:]
	s.m.peeked = false
}

func (s *machine) TryRead(t *rapid.T) {
	prefix := []byte("prefix")
	got, err := s.c.TryRead(slices.Clone(prefix))
	if len(s.m.queue) == 0 {
		s.cov.empty++
		if err != ring.ErrEmpty || !bytes.Equal(got, prefix) {
			t.Fatalf("TryRead on an empty ring = %q, %v; want the dst unchanged and ErrEmpty", got, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("TryRead: %v", err)
	}
	r := s.m.queue[0]
	if diff := cmp.Diff(append(prefix, r.msg...), got, cmpBytes); diff != "" {
		t.Fatalf("TryRead: mismatch (-want +got):\n%s", diff)
	}
	s.m.head += r.span()
	s.m.queue = s.m.queue[1:]
	s.m.peeked = false
}

// TryWriteBatch writes up to five messages with one publication. The model
// takes them one by one, as TryWrite would, and stops at the first that is
// too large or does not fit: the batch is the messages before it, and with
// none before it the call fails as TryWrite would and writes nothing.
func (s *machine) TryWriteBatch(t *rapid.T) {
	k := rapid.IntRange(0, 5).Draw(t, "k")
	msgs := make([][]byte, k)
	var pads []uint64
	var wantErr error
	end, stopped := s.m.end, false
	for i := range msgs {
		n := max(s.size(t), 0) // sizes drawn at the simulated position, so padding falls inside batches
		s.seq++
		msgs[i] = payload(s.seq, n)
		if stopped {
			continue
		}
		if err := s.expectWrite(n); err != nil {
			stopped = true
			if len(pads) == 0 {
				wantErr = err
			}
			continue
		}
		pad, need := s.m.place(n)
		pads = append(pads, pad)
		s.m.end += need
	}
	s.m.end = end
	before, head := slices.Clone(s.data), s.sh.head
	got, bytes, err := s.p.TryWriteBatch(msgs)
	if got != len(pads) || !errors.Is(err, wantErr) || (wantErr == nil && err != nil) {
		t.Fatalf("TryWriteBatch(%d messages) = %d, %v; want %d, %v (end %d, head %d, capacity %d)", k, got, err, len(pads), wantErr, s.m.end, s.m.head, s.m.capacity)
	}
	if want := payloadBytes(msgs[:got]); bytes != want {
		t.Fatalf("TryWriteBatch wrote %d messages of %d bytes, said %d", got, want, bytes)
	}
	s.m.resv, s.m.resMsg = -1, nil
	if got == 0 {
		s.unchanged(t, "TryWriteBatch", before, head)
		return
	}
	for i, pad := range pads {
		if i > 0 && pad > 0 {
			s.cov.batchPadded++
		}
		s.published(t, pad, msgs[i])
	}
	if got > 1 {
		s.cov.batches++
	}
}

// TryReadBatch reads up to five messages, into buffers that hold a prefix
// (which TryReadBatch drops: msgs[i][:0]), and releases them with one store.
func (s *machine) TryReadBatch(t *rapid.T) {
	k := rapid.IntRange(0, 5).Draw(t, "k")
	msgs := make([][]byte, k)
	for i := range msgs {
		msgs[i] = []byte("prefix")
	}
	head := s.sh.head
	got, bytes, err := s.c.TryReadBatch(msgs)
	if want := payloadBytes(msgs[:got]); bytes != want {
		t.Fatalf("TryReadBatch read %d messages of %d bytes, said %d", got, want, bytes)
	}
	want := min(k, len(s.m.queue))
	switch {
	case k == 0:
		if got != 0 || err != nil {
			t.Fatalf("TryReadBatch(no buffers) = %d, %v; want 0, nil", got, err)
		}
	case want == 0:
		s.cov.empty++
		if got != 0 || err != ring.ErrEmpty {
			t.Fatalf("TryReadBatch on an empty ring = %d, %v; want 0, ErrEmpty", got, err)
		}
	case got != want || err != nil:
		t.Fatalf("TryReadBatch(%d buffers) = %d, %v; want %d of %d queued", k, got, err, want, len(s.m.queue))
	}
	if want == 0 && s.sh.head != head {
		t.Fatalf("TryReadBatch read nothing but moved head from %d to %d", head, s.sh.head)
	}
	for i := range got {
		r := s.m.queue[0]
		if diff := cmp.Diff(r.msg, msgs[i], cmpBytes); diff != "" {
			t.Fatalf("TryReadBatch: message %d mismatch (-want +got):\n%s", i, diff)
		}
		s.m.head += r.span()
		s.m.queue = s.m.queue[1:]
	}
	s.m.peeked = false
}

// RestartProducer attaches a new producer, as a sender that takes over from
// a dead one does: it finds the sender's position itself (Check verifies it
// through Free); any reservation is lost, nothing published is.
func (s *machine) RestartProducer(t *rapid.T) {
	p, err := ring.NewProducer(&s.sh.head, s.data)
	if err != nil {
		t.Fatalf("NewProducer at head %d: %v", s.sh.head, err)
	}
	s.p = p
	s.m.resv, s.m.resMsg = -1, nil
	s.cov.restarts++
}

// RestartConsumer attaches a new consumer: a message peeked but not
// released is delivered again.
func (s *machine) RestartConsumer(t *rapid.T) {
	c, err := ring.NewConsumer(&s.sh.head, s.data)
	if err != nil {
		t.Fatalf("NewConsumer at head %d: %v", s.sh.head, err)
	}
	s.c = c
	s.m.peeked = false
	s.cov.restarts++
}

// Check runs after every action.
func (s *machine) Check(t *rapid.T) {
	if s.sh.head != s.m.head {
		t.Fatalf("shared head = %d, want %d", s.sh.head, s.m.head)
	}
	used := s.m.end - s.m.head
	if used > s.m.capacity-hdr || used%8 != 0 {
		t.Fatalf("model broke its own invariant: end %d, head %d", s.m.end, s.m.head)
	}
	// The word after the last record is zero: nothing published there.
	if w := binary.LittleEndian.Uint64(s.data[s.m.end%s.m.capacity:]); w != 0 {
		t.Fatalf("word at the sender's position (%d) = %#x, want the zero terminator", s.m.end%s.m.capacity, w)
	}
	// Free: the producer loads head, so in one goroutine it is exact; the
	// terminator's word counts as used.
	if got, want := s.p.Free(), int(s.m.capacity-hdr-used); got != want {
		t.Fatalf("Free() = %d, want %d (capacity %d, %d bytes of records, 8 for the terminator)", got, want, s.m.capacity, used)
	}
	// Liveness: an empty ring takes the largest message wherever it is.
	if used == 0 && !s.m.fits(s.m.max()) {
		t.Fatalf("an empty ring at %d cannot take a %d-byte message", s.m.end, s.m.max())
	}
}

var cmpBytes = cmp.Comparer(bytes.Equal)

// TestRingModel runs random mixes of every Producer and Consumer operation
// against the model, in small rings so that they wrap often.
func TestRingModel(t *testing.T) {
	var cov coverage
	rapid.Check(t, func(t *rapid.T) {
		s := newMachine(t, &cov)
		actions := map[string]func(*rapid.T){
			"TryWrite":        s.TryWrite,
			"TryReserve":      s.TryReserve,
			"Commit":          s.Commit,
			"TryPeek":         s.TryPeek,
			"Release":         s.Release,
			"TryRead":         s.TryRead,
			"TryWriteBatch":   s.TryWriteBatch,
			"TryReadBatch":    s.TryReadBatch,
			"RestartProducer": s.RestartProducer,
			"RestartConsumer": s.RestartConsumer,
		}
		common := []string{"TryWrite", "TryReserve", "Commit", "TryPeek", "Release", "TryRead", "TryWriteBatch", "TryReadBatch"}
		all := append(slices.Clone(common), "RestartProducer", "RestartConsumer")
		// The common operations twice as often as the restarts.
		action := rapid.OneOf(rapid.SampledFrom(common), rapid.SampledFrom(all))
		s.Check(t)
		steps := rapid.IntRange(1, 1000).Draw(t, "steps")
		for range steps {
			actions[action.Draw(t, "action")](t)
			s.Check(t)
		}
	})
	t.Logf("%+v", cov)
	if !t.Failed() && (cov.padded == 0 || cov.full == 0 || cov.tooLarge == 0 || cov.wrapped == 0 || cov.empty == 0 || cov.restarts == 0 || cov.batches == 0 || cov.batchPadded == 0) {
		t.Errorf("the model did not reach every case: %+v", cov)
	}
}

// TestRingEveryPosition writes and reads records of every size in small
// rings until they have gone round several times, so that records end at
// (and padding starts from) every 8-byte place of the region.
func TestRingEveryPosition(t *testing.T) {
	for _, capacity := range []int{64, 128, 256} {
		for n := 0; n <= capacity/2-hdr; n++ {
			sh := &shared{}
			data := newRegion(capacity)
			p, c := pair(t, sh, data)
			var got []byte
			for i := range 4 * capacity / 8 {
				msg := payload(i, n)
				if err := p.TryWrite(msg); err != nil {
					t.Fatalf("capacity %d, size %d: TryWrite #%d (head %d): %v", capacity, n, i, sh.head, err)
				}
				var err error
				if got, err = c.TryRead(got[:0]); err != nil {
					t.Fatalf("capacity %d, size %d: TryRead #%d: %v", capacity, n, i, err)
				}
				if !bytes.Equal(got, msg) {
					t.Fatalf("capacity %d, size %d: TryRead #%d = %x, want %x", capacity, n, i, got, msg)
				}
				if _, err := c.TryPeek(); err != ring.ErrEmpty {
					t.Fatalf("capacity %d, size %d: TryPeek after reading all = %v, want ErrEmpty", capacity, n, err)
				}
			}
		}
	}
}

// TestRingFullWithPadding checks the case where the free bytes would hold a
// record, but not at the sender's position: the padding to the end counts.
func TestRingFullWithPadding(t *testing.T) {
	const capacity = 128 // max message 56: a record of 64
	sh := &shared{}
	data := newRegion(capacity)
	p, c := pair(t, sh, data)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.TryWrite(make([]byte, 56))) // record 0..64
	must(p.TryWrite(make([]byte, 8)))  // record 64..80, terminator at 80
	_, err := c.TryRead(nil)           // head 64
	must(err)
	if got := p.Free(); got != 128-8-16 {
		t.Fatalf("Free() = %d, want 104", got)
	}
	// A 64-byte record at 80 would cross the end: it takes 48 bytes of
	// padding, 64 of record and 8 of terminator, 120 in all, with 104 free.
	if err := p.TryWrite(make([]byte, 56)); err != ring.ErrFull {
		t.Fatalf("TryWrite of 56 bytes needing 48 of padding into 104 free = %v, want ErrFull", err)
	}
	// A 40-byte record at 80..120 needs no padding.
	must(p.TryWrite(make([]byte, 32)))
	// At 120 a 16-byte record needs 8 bytes of padding; it goes at 0.
	must(p.TryWrite(payload(7, 8)))
	for range 2 {
		if _, err := c.TryRead(nil); err != nil {
			t.Fatal(err)
		}
	}
	msg, err := c.TryPeek()
	if err != nil || !bytes.Equal(msg, payload(7, 8)) || offsetIn(data, msg) != 8 {
		t.Fatalf("TryPeek after padding = %x at %d, %v; want %x at 8", msg, offsetIn(data, msg), err, payload(7, 8))
	}
	must(c.Release())
	if sh.head != 128+16 {
		t.Fatalf("head after the padded record = %d, want 144", sh.head)
	}
}

// TestRingTooLargeWritesNothing checks that ErrTooLarge comes before any
// write, from every entry point and whatever the ring holds.
func TestRingTooLargeWritesNothing(t *testing.T) {
	sh := &shared{}
	data := newRegion(256)
	p, _ := pair(t, sh, data)
	if err := p.TryWrite(payload(1, 50)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.TryReserve(3); err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(data)
	for _, n := range []int{p.MaxMessage() + 1, 256, 4096} {
		if err := p.TryWrite(make([]byte, n)); !errors.Is(err, ring.ErrTooLarge) {
			t.Errorf("TryWrite(%d bytes) = %v, want ErrTooLarge", n, err)
		}
	}
	for _, n := range []int{p.MaxMessage() + 1, 256, 1 << 31, -1} {
		if buf, err := p.TryReserve(n); !errors.Is(err, ring.ErrTooLarge) || buf != nil {
			t.Errorf("TryReserve(%d) = %d bytes, %v; want ErrTooLarge", n, len(buf), err)
		}
	}
	// The refused reservations abandoned the first one; take it again.
	if _, err := p.TryReserve(3); err != nil {
		t.Fatal(err)
	}
	for _, m := range []int{4, -1} {
		if err := p.Commit(m); !errors.Is(err, ring.ErrTooLarge) {
			t.Errorf("Commit(%d) of a 3-byte reservation = %v, want ErrTooLarge", m, err)
		}
	}
	if !bytes.Equal(data, before) {
		t.Fatalf("a refused message changed the ring")
	}
}

// TestRingNewRejectsGeometry checks the regions the ring refuses: too
// small, not a power of two, not 8-byte aligned.
func TestRingNewRejectsGeometry(t *testing.T) {
	regions := map[string][]byte{}
	for _, n := range []int{0, 8, 16, 32, 48, 100, 1000} {
		regions[fmt.Sprintf("%d bytes", n)] = newRegion(n)
	}
	regions["unaligned"] = newRegion(1024 + 8)[4 : 1024+4]
	for name, data := range regions {
		sh := &shared{}
		if _, err := ring.NewProducer(&sh.head, data); !errors.Is(err, ring.ErrCorrupt) {
			t.Errorf("NewProducer over %s = %v, want ErrCorrupt", name, err)
		}
		if _, err := ring.NewConsumer(&sh.head, data); !errors.Is(err, ring.ErrCorrupt) {
			t.Errorf("NewConsumer over %s = %v, want ErrCorrupt", name, err)
		}
	}
}

// rec is a record header to plant in a region.
type rec struct {
	at      uint64
	n, kind uint32
}

// TestRingCorruptRecords plants hostile record headers in a 256-byte ring
// and expects the consumer to refuse them with ErrCorrupt (after the good
// messages the case starts with), never returning a slice outside the
// region nor panicking; and the producer, which walks the records from head
// to find where to continue, to refuse them too.
func TestRingCorruptRecords(t *testing.T) {
	const capacity = 256 // max message 120
	for _, tc := range []struct {
		name string
		head uint64
		recs []rec
		good int // well-formed messages before the bad record
	}{
		{name: "kind 0", recs: []rec{{0, 8, 0}}},
		{name: "kind 3", recs: []rec{{0, 8, 3}}},
		{name: "kind max", recs: []rec{{0, 8, 0xFFFFFFFF}}},
		{name: "len > max", recs: []rec{{0, 121, kindMessage}}},
		{name: "len huge", recs: []rec{{0, 0xFFFFFFFF, kindMessage}}},
		{name: "record crosses the end", head: 192, recs: []rec{{192, 72, kindMessage}}},
		{name: "record in the last word", head: 248, recs: []rec{{248, 8, kindMessage}}},
		{name: "padding short of the end", head: 128, recs: []rec{{128, 64, kindPadding}}},
		{name: "padding past the end", head: 128, recs: []rec{{128, 200, kindPadding}}},
		{name: "padding huge", head: 128, recs: []rec{{128, 0xFFFFFFF8, kindPadding}}},
		{name: "padding at 0", recs: []rec{{0, 248, kindPadding}}},
		{name: "padding at 0 on a later lap", head: 256, recs: []rec{{0, 248, kindPadding}}},
		{name: "padding then kind 0", head: 192, recs: []rec{{192, 56, kindPadding}, {0, 8, 0}}},
		{name: "padding then padding", head: 192, recs: []rec{{192, 56, kindPadding}, {0, 240, kindPadding}}},
		{name: "padding then too long", head: 192, recs: []rec{{192, 56, kindPadding}, {0, 200, kindMessage}}},
		{name: "good then kind 7", recs: []rec{{0, 3, kindMessage}, {16, 0, 7}}, good: 1},
		// Padding and the record after it take more than the ring: the
		// producer could never have written them, as it keeps a terminator
		// free.
		{name: "padding and record past one capacity", head: 8, recs: []rec{{8, 240, kindPadding}, {0, 8, kindMessage}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sh := &shared{head: tc.head}
			data := newRegion(capacity)
			for _, r := range tc.recs {
				putRecord(data, r.at, r.n, r.kind)
			}
			if _, err := ring.NewProducer(&sh.head, data); !errors.Is(err, ring.ErrCorrupt) {
				t.Errorf("NewProducer = %v, want ErrCorrupt", err)
			}
			c, err := ring.NewConsumer(&sh.head, data)
			if err != nil {
				t.Fatalf("NewConsumer(head %d): %v", tc.head, err)
			}
			for i := 0; ; i++ {
				msg, err := c.TryPeek()
				if err != nil {
					if !errors.Is(err, ring.ErrCorrupt) || msg != nil {
						t.Fatalf("TryPeek #%d = %d bytes, %v; want ErrCorrupt", i, len(msg), err)
					}
					if i != tc.good {
						t.Fatalf("ErrCorrupt after %d messages, want %d", i, tc.good)
					}
					break
				}
				if offsetIn(data, msg) < 0 {
					t.Fatalf("TryPeek #%d returned %d bytes outside the region", i, len(msg))
				}
				if i >= tc.good {
					t.Fatalf("TryPeek #%d returned %d bytes, want ErrCorrupt", i, len(msg))
				}
				if err := c.Release(); err != nil {
					t.Fatalf("Release: %v", err)
				}
			}
			if _, err := c.TryRead(nil); !errors.Is(err, ring.ErrCorrupt) {
				t.Errorf("TryRead after ErrCorrupt = %v, want ErrCorrupt again", err)
			}
		})
	}
}

// TestRingProducerWalk checks that a producer attaching to a ring whose
// records run all the way round (no zero terminator) refuses it rather than
// loop or continue over unread records. A consumer cannot tell such a ring
// from a stream that goes on, but it never reads outside the region.
func TestRingProducerWalk(t *testing.T) {
	const capacity = 256
	for _, tc := range []struct {
		name string
		head uint64
		recs []rec
	}{
		{"four full records", 0, []rec{{0, 56, kindMessage}, {64, 56, kindMessage}, {128, 56, kindMessage}, {192, 56, kindMessage}}},
		{"terminator word used", 0, []rec{{0, 56, kindMessage}, {64, 56, kindMessage}, {128, 56, kindMessage}, {192, 48, kindMessage}, {248, 0, kindMessage}}},
		{"round through padding", 64, []rec{{64, 120, kindMessage}, {192, 56, kindPadding}, {0, 48, kindMessage}, {56, 0, kindMessage}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sh := &shared{head: tc.head}
			data := newRegion(capacity)
			for _, r := range tc.recs {
				putRecord(data, r.at, r.n, r.kind)
			}
			if _, err := ring.NewProducer(&sh.head, data); !errors.Is(err, ring.ErrCorrupt) {
				t.Errorf("NewProducer = %v, want ErrCorrupt", err)
			}
			c, err := ring.NewConsumer(&sh.head, data)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 * capacity / 8 {
				msg, err := c.TryRead(nil)
				if err != nil && !errors.Is(err, ring.ErrCorrupt) {
					t.Fatalf("TryRead #%d: %v", i, err)
				}
				if len(msg) > c.MaxMessage() {
					t.Fatalf("TryRead #%d: %d bytes", i, len(msg))
				}
			}
		})
	}
}

// TestRingCorruptHead gives both ends a hostile shared head, at attach
// time and later, and expects ErrCorrupt, never a panic.
func TestRingCorruptHead(t *testing.T) {
	const capacity = 256
	for _, head := range []uint64{4, 12, 1<<64 - 1, 1<<63 + 3} {
		sh := &shared{head: head}
		data := newRegion(capacity)
		if _, err := ring.NewProducer(&sh.head, data); !errors.Is(err, ring.ErrCorrupt) {
			t.Errorf("NewProducer(head %d) = %v, want ErrCorrupt", head, err)
		}
		if _, err := ring.NewConsumer(&sh.head, data); !errors.Is(err, ring.ErrCorrupt) {
			t.Errorf("NewConsumer(head %d) = %v, want ErrCorrupt", head, err)
		}
	}

	// The producer has filled the ring, so that its next write reloads
	// head; the hostile consumer stores a bad one.
	for _, tc := range []struct {
		name string
		head uint64
	}{
		{"head beyond the sender", 8 + capacity},
		{"head moves back", 0},
		{"unaligned head", 12},
		{"head far away", 1 << 62},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sh := &shared{head: 8}
			data := newRegion(capacity)
			p, _ := pair(t, sh, data)
			for p.Free() > 0 {
				if err := p.TryWrite(nil); err != nil {
					t.Fatalf("filling: %v", err)
				}
			}
			sh.head = tc.head
			before := slices.Clone(data)
			if _, err := p.TryReserve(0); !errors.Is(err, ring.ErrCorrupt) {
				t.Errorf("TryReserve with head %d = %v, want ErrCorrupt", tc.head, err)
			}
			if err := p.TryWrite(nil); !errors.Is(err, ring.ErrCorrupt) {
				t.Errorf("TryWrite with head %d = %v, want ErrCorrupt", tc.head, err)
			}
			if !bytes.Equal(before, data) {
				t.Errorf("the producer wrote after finding head corrupt")
			}
			if free := p.Free(); free < 0 || free > capacity {
				t.Errorf("Free() = %d with a corrupt head, want 0..%d", free, capacity)
			}
		})
	}
}

// TestRingConcurrent streams messages of every size from one goroutine to
// another through small rings, mixing the copying and zero-copy calls, and
// checks that each arrives whole and in order; some are written and read in
// batches (one publication, one release). Run it with -race.
func TestRingConcurrent(t *testing.T) {
	for _, capacity := range []int{64, 1024} {
		t.Run(fmt.Sprintf("capacity=%d", capacity), func(t *testing.T) {
			count := 50_000
			if testing.Short() {
				count = 5_000
			}
			streamRing(t, capacity, count)
		})
	}
}

func streamRing(t *testing.T, capacity, count int) {
	sh := &shared{}
	data := newRegion(capacity)
	p, c := pair(t, sh, data)
	maxMsg := p.MaxMessage()
	size := func(i int) int { return (i * 7919) % (maxMsg + 1) }

	var (
		wg      sync.WaitGroup
		stop    atomic.Bool // the consumer failed: the producer stops
		done    atomic.Bool // the producer finished or failed
		sendErr error       // written before done
	)
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer done.Store(true)
		var batch [][]byte
		for i := 0; i < count && !stop.Load(); {
			msg := payload(i, size(i))
			var err error
			if i%8 >= 5 {
				// A batch of up to three, published by one store.
				batch = batch[:0]
				for j := i; j < min(i+3, count); j++ {
					batch = append(batch, payload(j, size(j)))
				}
				var n int
				if n, _, err = p.TryWriteBatch(batch); err == nil {
					i += n
				}
				if err == nil || err == ring.ErrFull {
					if err == ring.ErrFull {
						runtime.Gosched()
					}
					continue
				}
				sendErr = fmt.Errorf("producer, batch at message %d: %w", i, err)
				return
			}
			if i%2 == 0 {
				err = p.TryWrite(msg)
			} else {
				var buf []byte
				if buf, err = p.TryReserve(min(len(msg)+i%5, maxMsg)); err == nil {
					copy(buf, msg)
					err = p.Commit(len(msg))
				}
			}
			switch {
			case err == ring.ErrFull:
				runtime.Gosched()
			case err != nil:
				sendErr = fmt.Errorf("producer, message %d: %w", i, err)
				return
			default:
				i++
			}
		}
	}()

	var got []byte
	bufs := make([][]byte, 4)
	deadline := time.Now().Add(time.Minute)
	for i := 0; i < count; {
		var err error
		if i%7 >= 4 {
			// A batch read of up to four, released by one store.
			var n int
			if n, _, err = c.TryReadBatch(bufs[:min(4, count-i)]); err == nil {
				for j, b := range bufs[:n] {
					if want := payload(i+j, size(i+j)); !bytes.Equal(b, want) {
						t.Fatalf("message %d (batch read) = %x, want %x", i+j, b, want)
					}
				}
				i += n
				continue
			}
		} else if i%3 == 0 {
			var msg []byte
			if msg, err = c.TryPeek(); err == nil {
				got = append(got[:0], msg...)
				err = c.Release()
			}
		} else {
			got, err = c.TryRead(got[:0])
		}
		if err == ring.ErrEmpty {
			if done.Load() {
				// The producer is done: anything it published is visible.
				if _, err := c.TryPeek(); err == ring.ErrEmpty {
					stop.Store(true)
					wg.Wait()
					t.Fatalf("received %d of %d messages; the producer ended with %v", i, count, sendErr)
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("received %d of %d messages in a minute", i, count)
			}
			runtime.Gosched()
			continue
		}
		if err != nil {
			t.Fatalf("consumer, message %d: %v", i, err)
		}
		if want := payload(i, size(i)); !bytes.Equal(got, want) {
			t.Fatalf("message %d = %x, want %x", i, got, want)
		}
		i++
	}
	wg.Wait()
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	if _, err := c.TryPeek(); err != ring.ErrEmpty {
		t.Fatalf("TryPeek after the stream = %v, want ErrEmpty", err)
	}
}

// TestRingBatchPadding writes batches whose later records need padding at
// the end of the region, and reads them both ways: with TryPeek/Release, as
// a consumer that knows nothing of batches does, and with TryReadBatch.
// Before the batch's one publication, the consumer sees nothing of it.
func TestRingBatchPadding(t *testing.T) {
	const capacity = 256
	for _, start := range []uint64{0, 64, 136, 200, 240} {
		for _, batchRead := range []bool{false, true} {
			t.Run(fmt.Sprintf("start=%d/batchread=%v", start, batchRead), func(t *testing.T) {
				sh := &shared{head: start}
				data := newRegion(capacity)
				p, c := pair(t, sh, data)
				// Records of 16, 32, 48 and 24 bytes (120 in all): from 0 and
				// 64 the batch does not wrap, from 136 it ends exactly at the
				// end of the region, from 200 padding precedes its second
				// record, from 240 its first record fills the region's end.
				msgs := [][]byte{payload(1, 8), payload(2, 24), payload(3, 40), payload(4, 13)}
				n, _, err := p.TryWriteBatch(msgs)
				if err != nil || n != len(msgs) {
					t.Fatalf("TryWriteBatch = %d, %v; want %d", n, err, len(msgs))
				}
				var got [][]byte
				if batchRead {
					bufs := make([][]byte, 8)
					n, _, err := c.TryReadBatch(bufs)
					if err != nil {
						t.Fatal(err)
					}
					got = bufs[:n]
				} else {
					for {
						m, err := c.TryRead(nil)
						if err == ring.ErrEmpty {
							break
						}
						if err != nil {
							t.Fatal(err)
						}
						got = append(got, m)
					}
				}
				if diff := cmp.Diff(msgs, got, cmpBytes); diff != "" {
					t.Fatalf("read back (-want +got):\n%s", diff)
				}
				if _, err := c.TryPeek(); err != ring.ErrEmpty {
					t.Fatalf("TryPeek after the batch = %v, want ErrEmpty", err)
				}
			})
		}
	}

	// Where the batch crosses the end: padding after its first record.
	sh := &shared{head: 200}
	data := newRegion(capacity)
	p, c := pair(t, sh, data)
	if n, bytes, err := p.TryWriteBatch([][]byte{payload(1, 24), payload(2, 40)}); n != 2 || bytes != 64 || err != nil {
		t.Fatalf("TryWriteBatch = %d, %v", n, err)
	}
	if w := binary.LittleEndian.Uint32(data[232+4:]); w != kindPadding {
		t.Fatalf("kind at 232 = %d, want padding (the batch's second record wraps)", w)
	}
	// Undo the publication: with the first header zero, the consumer finds
	// the ring empty although the rest of the batch is written.
	first := binary.LittleEndian.Uint64(data[200:])
	binary.LittleEndian.PutUint64(data[200:], 0)
	if _, err := c.TryPeek(); err != ring.ErrEmpty {
		t.Fatalf("TryPeek before the first header = %v, want ErrEmpty", err)
	}
	binary.LittleEndian.PutUint64(data[200:], first)
	bufs := make([][]byte, 2)
	if n, bytes, err := c.TryReadBatch(bufs); n != 2 || bytes != 64 || err != nil {
		t.Fatalf("TryReadBatch = %d, %v", n, err)
	}
	if sh.head != 200+32+24+48 {
		t.Fatalf("head = %d after the batch, want %d (one store past the padding)", sh.head, 200+32+24+48)
	}
}

// payloadBytes adds up the lengths of msgs: what a batch call says it moved.
func payloadBytes(msgs [][]byte) int {
	n := 0
	for _, m := range msgs {
		n += len(m)
	}
	return n
}
