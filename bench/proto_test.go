//go:build unix

package bench

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// The prototypes: minimal two-process programs, no library code, each
// isolating one cache-line effect that the shmchan channel pays for (issue
// 16; docs/design.md, "Where the cache lines go"). They are timed like the
// suite: round trips one by one into a histogram (p50-ns ...), one-way
// streams as msg/s from the first send to the peer's last receive.
//
// Two mechanisms cover them all:
//
//   - a turn: the parent writes a payload and then a sequence word, the
//     child waits for the word, reads the payload and answers the same way,
//     at offsets given per direction, so that one can choose which cache
//     lines a round trip moves (floor-payload64 is one of these);
//   - a ring: a minimal SPSC ring of fixed-size records published in line
//     (each record's first word is its sequence number + 1, stored last),
//     with the receiver's consumed count published in a line of its own
//     every k records and whenever the ring runs empty.
//
// Segment layout: bytes [0, 128) are the control line (the stop word at 0);
// the data follow at protoData.

const (
	protoData = 128
	protoStop = 1
	// protoSlots is the number of records of a ring. Records of any size
	// fit, so the ring's byte size is protoSlots × the slot size.
	protoSlots = 4096
)

// turnSpec places the two directions of a turn. Offsets are from protoData.
// The ping's sequence word holds 2i+1 for turn i, the pong's 2i+2; when
// both directions share the word it simply alternates.
type turnSpec struct {
	name             string
	size             int  // payload bytes
	pingPay, pingSeq int  // where the parent's payload and sequence word go
	pongPay, pongSeq int  // where the child's go
	clock            bool // read time.Now every 64 spins while waiting, as a spin budget would
}

// turnSpecs are every turn prototype, and floor-payload64.
var turnSpecs = []turnSpec{
	// One line: an 8-byte sequence word and nothing else (floor-atomic with
	// a 64-bit word); the clock variant adds a time.Now every 64 spins.
	{name: "line1-empty", size: 0},
	{name: "line1-empty-clock", size: 0, clock: true},
	// One line: 56 payload bytes and the sequence word, written last, in
	// the same line, both directions.
	{name: "line1-56", size: 56, pingPay: 0, pingSeq: 56, pongPay: 0, pongSeq: 56},
	// Two lines: the 64-byte payload in line A, the word in line B, both
	// directions on the same two lines. This is floor-payload64.
	{name: "line2-seqlast", size: 64, pingPay: 0, pingSeq: 64, pongPay: 0, pongSeq: 64},
	// Two lines: the word first, then the payload (56 bytes in line A with
	// the word, 8 in line B).
	{name: "line2-seqfirst", size: 64, pingPay: 8, pingSeq: 0, pongPay: 8, pongSeq: 0},
	// Four lines: each direction has its own payload line and word line.
	{name: "line2-split", size: 64, pingPay: 0, pingSeq: 64, pongPay: 128, pongSeq: 192},
}

// floorPayload64 names the turn that floor-payload64 reports: the cheapest
// of the 64-byte turns in a short interleaved A/B run (see design.md).
const floorPayload64 = "line2-seqlast"

func turnNamed(name string) (turnSpec, bool) {
	for _, s := range turnSpecs {
		if s.name == name {
			return s, true
		}
	}
	return turnSpec{}, false
}

// ringSpec is a ring prototype.
type ringSpec struct {
	size    int  // payload bytes; the first 8 carry the record's sequence number
	slot    int  // bytes per record: 8 + size rounded up to 8 (packed) or to 64 (aligned)
	k       int  // the receiver publishes its count every k records (and when the ring runs empty)
	inPlace bool // the receiver reads the payload's sequence number in place instead of copying the payload out
}

func (s ringSpec) args() []string {
	return []string{"size=" + strconv.Itoa(s.size), "slot=" + strconv.Itoa(s.slot), "k=" + strconv.Itoa(s.k), "inplace=" + strconv.FormatBool(s.inPlace)}
}

// ringBytes is the size of one ring: its count line and its records.
func (s ringSpec) ringBytes() int { return 128 + protoSlots*s.slot }

func slotFor(size int, aligned bool) int {
	if aligned {
		return (8 + size + 63) &^ 63
	}
	return (8 + size + 7) &^ 7
}

func init() {
	testproc.Register("bench-proto", func(args []string) int {
		defer pinHot(1)()
		if err := protoChild(args); err != nil {
			fmt.Fprintf(os.Stderr, "bench-proto: %v\n", err)
			return 1
		}
		return 0
	})
}

// protoRun is the parent's side of a running prototype.
type protoRun struct {
	mem  []byte
	pr   *peer
	dead func() bool
}

// startProto maps a segment of size bytes of data and starts the child
// with args.
func startProto(tb testing.TB, size int, args ...string) *protoRun {
	tb.Helper()
	name := testproc.Name(tb, "bench")
	seg, err := shm.Create(name, int64(protoData+size))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		seg.Close()
		shm.Remove(name)
	})
	r := &protoRun{mem: seg.Bytes(), pr: newPeer("proto")}
	r.dead = r.pr.dead
	r.pr.spawn(tb, "bench-proto", append([]string{"name=" + name}, args...), nil, nil)
	r.pr.ready(tb)
	return r
}

// stop ends the child and waits for it.
func (r *protoRun) stop(tb testing.TB) {
	// SYNC(proto_stop): release. Pairs with the load in protoChild's gone.
	atomic.StoreUint64(word(r.mem, 0), protoStop)
	if err := r.pr.wait(20 * time.Second); err != nil {
		tb.Fatal(err)
	}
}

func word(mem []byte, off int) *uint64 { return (*uint64)(unsafe.Pointer(&mem[off])) }

// spinFor spins until *w == want. With clock it reads the clock every 64
// loads, as a spin phase with a time budget does. Every 1<<16 loads it asks
// gone and gives up if it says so.
func spinFor(w *uint64, want uint64, clock bool, gone func() bool) bool {
	var t0 time.Time
	if clock {
		t0 = time.Now()
	}
	for i := 1; ; i++ {
		// SYNC(proto_seq): acquire. Takes a turn or a record; pairs with the
		// store in turnHand or ringSend.
		if atomic.LoadUint64(w) == want {
			return true
		}
		if clock && i&63 == 0 && time.Since(t0) < 0 {
			return false // never: the comparison keeps the clock read
		}
		if i&(1<<16-1) == 0 && gone() {
			return false
		}
	}
}

// turnHand writes the payload at pay and then the sequence word.
func turnHand(data []byte, msg []byte, pay, seq int, v uint64) {
	copy(data[pay:pay+len(msg)], msg)
	// SYNC(proto_seq): release. Publishes the payload; pairs with the load
	// in spinFor.
	atomic.StoreUint64(word(data, seq), v)
}

// turnPingPong measures round trips of the turn s.
func turnPingPong(b *testing.B, s turnSpec) {
	r := startProto(b, 256, "kind=turn", "turn="+s.name)
	data := r.mem[protoData:]
	msg, buf := make([]byte, s.size), make([]byte, s.size)
	turn := func(i int) {
		if s.size >= 8 {
			binary.LittleEndian.PutUint64(msg, uint64(i))
		}
		turnHand(data, msg, s.pingPay, s.pingSeq, uint64(2*i+1))
		if !spinFor(word(data, s.pongSeq), uint64(2*i+2), s.clock, r.dead) {
			b.Fatalf("turn %s: peer gone at turn %d: %v", s.name, i, r.pr.wait(time.Second))
		}
		copy(buf, data[s.pongPay:s.pongPay+s.size])
		if s.size >= 8 && binary.LittleEndian.Uint64(buf) != uint64(i) {
			b.Fatalf("turn %s %d: reply carries %d", s.name, i, binary.LittleEndian.Uint64(buf))
		}
	}
	timeTurns(b, turn)
	r.stop(b)
}

// timeTurns runs turn(i), which makes round trip i, warmupRounds times
// untimed and then b.N times into a histogram, and reports its percentiles.
func timeTurns(b *testing.B, turn func(i int)) {
	for i := range warmupRounds {
		turn(i)
	}
	h := newHistogram()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		turn(warmupRounds + i)
		if err := h.RecordValue(int64(time.Since(t0))); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportLatency(b, h)
}

// ring is one side's view of a ring prototype.
type ring struct {
	s      ringSpec
	count  *uint64 // the receiver's consumed count
	slots  []byte
	next   uint64 // the next record this side sends or receives
	cached uint64 // sender: the count last read; receiver: the count last published
}

func newRing(s ringSpec, mem []byte) *ring {
	return &ring{s: s, count: word(mem, 0), slots: mem[128 : 128+protoSlots*s.slot]}
}

func (q *ring) slotAt(i uint64) []byte {
	off := int(i%protoSlots) * q.s.slot
	return q.slots[off : off+q.s.slot]
}

// send writes msg into the next record and publishes it.
func (q *ring) send(msg []byte, gone func() bool) bool {
	i := q.next
	for n := 1; i-q.cached >= protoSlots; n++ {
		// SYNC(proto_count): acquire. Frees records; pairs with the store
		// in publish.
		q.cached = atomic.LoadUint64(q.count)
		if n&(1<<16-1) == 0 && gone() {
			return false
		}
	}
	rec := q.slotAt(i)
	copy(rec[8:], msg)
	// SYNC(proto_seq): release. Publishes the record; pairs with the load
	// in spinFor.
	atomic.StoreUint64(word(rec, 0), i+1)
	q.next = i + 1
	return true
}

// recv waits for the next record and returns its payload's sequence
// number: copied out into buf, or read in place.
func (q *ring) recv(buf []byte, gone func() bool) (uint64, bool) {
	i := q.next
	rec := q.slotAt(i)
	w := word(rec, 0)
	// SYNC(proto_seq): acquire, pairs with send's store. On an empty ring
	// the count is published first, so that a sender waiting for room, or
	// for the end of a stream, sees every record consumed so far.
	if atomic.LoadUint64(w) != i+1 {
		q.publish()
		if !spinFor(w, i+1, false, gone) {
			return 0, false
		}
	}
	var seq uint64
	if q.s.inPlace {
		seq = binary.LittleEndian.Uint64(rec[8:])
	} else {
		copy(buf, rec[8:8+q.s.size])
		seq = binary.LittleEndian.Uint64(buf)
	}
	q.next = i + 1
	if q.next-q.cached >= uint64(q.s.k) {
		q.publish()
	}
	return seq, true
}

func (q *ring) publish() {
	if q.cached == q.next {
		return
	}
	q.cached = q.next
	// SYNC(proto_count): release. Returns the records before next to the
	// sender; pairs with the load in send.
	atomic.StoreUint64(q.count, q.next)
}

// ringPingPong measures round trips through two rings of spec s.
func ringPingPong(b *testing.B, s ringSpec) {
	r := startProto(b, 2*s.ringBytes(), append([]string{"kind=ring", "role=echo"}, s.args()...)...)
	data := r.mem[protoData:]
	tx, rx := newRing(s, data), newRing(s, data[s.ringBytes():])
	msg, buf := make([]byte, s.size), make([]byte, s.size)
	turn := func(i int) {
		binary.LittleEndian.PutUint64(msg, uint64(i))
		if !tx.send(msg, r.dead) {
			b.Fatalf("ring: peer gone at %d: %v", i, r.pr.wait(time.Second))
		}
		seq, ok := rx.recv(buf, r.dead)
		if !ok || seq != uint64(i) {
			b.Fatalf("ring: reply %d carries %d (peer gone: %v)", i, seq, !ok)
		}
	}
	timeTurns(b, turn)
	r.stop(b)
}

// ringThroughput streams records through one ring of spec s to a sink
// child and stops the clock when the child's published count reaches the
// last record.
func ringThroughput(b *testing.B, s ringSpec) {
	r := startProto(b, s.ringBytes(), append([]string{"kind=ring", "role=sink"}, s.args()...)...)
	tx := newRing(s, r.mem[protoData:])
	msg := make([]byte, s.size)
	sendAll := func(n int) {
		for range n {
			binary.LittleEndian.PutUint64(msg, tx.next)
			if !tx.send(msg, r.dead) {
				b.Fatalf("ring: peer gone at %d: %v", tx.next, r.pr.wait(time.Second))
			}
		}
		// SYNC(proto_count): acquire; pairs with the sink's publish, which
		// runs whenever the ring is empty.
		if !spinFor(tx.count, tx.next, false, r.dead) {
			b.Fatalf("ring: peer gone before it took %d: %v", tx.next, r.pr.wait(time.Second))
		}
	}
	sendAll(protoSlots) // warm up: fault in every record
	b.SetBytes(int64(s.size))
	b.ReportAllocs()
	b.ResetTimer()
	sendAll(b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s") // records sent per second, until the sink had taken the last
	r.stop(b)
}

// protoChild is the child of every prototype.
func protoChild(args []string) error {
	kv := map[string]string{}
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		kv[k] = v
	}
	seg, err := shm.Open(kv["name"])
	if err != nil {
		return err
	}
	defer seg.Close()
	mem := seg.Bytes()
	data := mem[protoData:]
	ppid := os.Getppid()
	// stopped is the result when a wait gave up: nil for the parent's
	// stop, an error if the parent died.
	stopped := func(at uint64) error {
		if os.Getppid() != ppid {
			return fmt.Errorf("parent gone at %d", at)
		}
		return nil
	}
	gone := func() bool {
		// SYNC(proto_stop): acquire. Pairs with the store in protoRun.stop.
		return atomic.LoadUint64(word(mem, 0)) == protoStop || os.Getppid() != ppid
	}
	fmt.Println("ready")
	if kv["kind"] == "turn" {
		s, ok := turnNamed(kv["turn"])
		if !ok {
			return fmt.Errorf("no turn %q", kv["turn"])
		}
		buf := make([]byte, s.size)
		for i := uint64(0); ; i++ {
			if !spinFor(word(data, s.pingSeq), 2*i+1, s.clock, gone) {
				return stopped(i)
			}
			copy(buf, data[s.pingPay:s.pingPay+s.size])
			turnHand(data, buf, s.pongPay, s.pongSeq, 2*i+2)
		}
	}
	var s ringSpec
	for _, f := range []struct {
		k string
		p *int
	}{{"size", &s.size}, {"slot", &s.slot}, {"k", &s.k}} {
		if *f.p, err = strconv.Atoi(kv[f.k]); err != nil {
			return fmt.Errorf("%s: %w", f.k, err)
		}
	}
	s.inPlace = kv["inplace"] == "true"
	if s.size < 8 || s.slot < 8+s.size || s.slot%8 != 0 || s.k < 1 || len(data) < 2*s.ringBytes() && kv["role"] == "echo" || len(data) < s.ringBytes() {
		return fmt.Errorf("bad ring %+v for %d bytes", s, len(data))
	}
	rx := newRing(s, data)
	buf := make([]byte, s.size)
	if kv["role"] == "sink" {
		for want := uint64(0); ; want++ {
			seq, ok := rx.recv(buf, gone)
			if !ok {
				return stopped(want)
			}
			if seq != want {
				return fmt.Errorf("record %d carries %d", want, seq)
			}
		}
	}
	tx := newRing(s, data[s.ringBytes():])
	for i := uint64(0); ; i++ {
		seq, ok := rx.recv(buf, gone)
		if !ok {
			return stopped(i)
		}
		if s.inPlace {
			binary.LittleEndian.PutUint64(buf, seq) // the one copy any producer makes
		}
		if !tx.send(buf, gone) {
			return stopped(i)
		}
	}
}

// Ring prototypes of BenchmarkProtoRing.
func ringSpecs() []struct {
	name string
	s    ringSpec
} {
	var out []struct {
		name string
		s    ringSpec
	}
	for _, size := range []int{8, 64} {
		for _, aligned := range []bool{false, true} {
			layout := "packed"
			if aligned {
				layout = "aligned"
			}
			out = append(out, struct {
				name string
				s    ringSpec
			}{fmt.Sprintf("layout=%s/size=%d", layout, size), ringSpec{size: size, slot: slotFor(size, aligned), k: 1}})
		}
	}
	return out
}

// BenchmarkProtoTurn: (a) one line against two per round trip, the
// floor-payload64 variants, and (e) the clock in the spin loop.
func BenchmarkProtoTurn(b *testing.B) {
	for _, s := range turnSpecs {
		b.Run("turn="+s.name, func(b *testing.B) { turnPingPong(b, s) })
	}
}

// BenchmarkProtoRing: (b) 8-byte-packed against line-aligned records, 8 B
// and 64 B, round trip and one-way.
func BenchmarkProtoRing(b *testing.B) {
	for _, c := range ringSpecs() {
		b.Run("workload=pingpong/"+c.name, func(b *testing.B) { ringPingPong(b, c.s) })
	}
	for _, c := range ringSpecs() {
		b.Run("workload=throughput/"+c.name, func(b *testing.B) { ringThroughput(b, c.s) })
	}
}

// BenchmarkProtoPublish: (c) the receiver's count published every record
// against every k records, one-way 64 B, packed records.
func BenchmarkProtoPublish(b *testing.B) {
	for _, k := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("k=%d/size=64", k), func(b *testing.B) {
			ringThroughput(b, ringSpec{size: 64, slot: slotFor(64, false), k: k})
		})
	}
}

// BenchmarkProtoCopy: (d) the receiver copying a 64-byte payload out
// against reading it in place (the zero-copy API's Peek), packed and
// aligned records, round trip and one-way.
func BenchmarkProtoCopy(b *testing.B) {
	for _, aligned := range []bool{false, true} {
		layout := map[bool]string{false: "packed", true: "aligned"}[aligned]
		for _, inPlace := range []bool{false, true} {
			api := map[bool]string{false: "copy", true: "inplace"}[inPlace]
			s := ringSpec{size: 64, slot: slotFor(64, aligned), k: 1, inPlace: inPlace}
			b.Run(fmt.Sprintf("workload=pingpong/layout=%s/api=%s/size=64", layout, api), func(b *testing.B) { ringPingPong(b, s) })
			b.Run(fmt.Sprintf("workload=throughput/layout=%s/api=%s/size=64", layout, api), func(b *testing.B) { ringThroughput(b, s) })
		}
	}
}

// TestProtos runs every prototype briefly: the turns and both ring roles
// deliver what was sent, and the helper role is used.
//
// Under the race detector (whose children start slowly) and with -short it
// runs floor-payload64's turn and one ring only.
func TestProtos(t *testing.T) {
	scaledDown := raceEnabled || testing.Short()
	for _, s := range turnSpecs {
		if scaledDown && s.name != floorPayload64 {
			continue
		}
		t.Run("turn="+s.name, func(t *testing.T) {
			r := startProto(t, 256, "kind=turn", "turn="+s.name)
			data := r.mem[protoData:]
			msg, buf := make([]byte, s.size), make([]byte, s.size)
			for i := range 300 {
				for j := range msg {
					msg[j] = byte(i + j)
				}
				turnHand(data, msg, s.pingPay, s.pingSeq, uint64(2*i+1))
				if !spinFor(word(data, s.pongSeq), uint64(2*i+2), s.clock, r.dead) {
					t.Fatalf("peer gone at %d", i)
				}
				copy(buf, data[s.pongPay:s.pongPay+s.size])
				if string(buf) != string(msg) {
					t.Fatalf("turn %d: echo %x, want %x", i, buf, msg)
				}
			}
			r.stop(t)
		})
	}
	for i, c := range ringSpecs() {
		for _, inPlace := range []bool{false, true} {
			if scaledDown && (i > 0 || inPlace) {
				continue
			}
			s := c.s
			s.inPlace, s.k = inPlace, 1+7*btoi(inPlace)
			t.Run(fmt.Sprintf("ring/%s/inplace=%v", c.name, inPlace), func(t *testing.T) {
				// Round trips past one lap and a stream of two laps, each record
				// checked.
				r := startProto(t, 2*s.ringBytes(), append([]string{"kind=ring", "role=echo"}, s.args()...)...)
				data := r.mem[protoData:]
				tx, rx := newRing(s, data), newRing(s, data[s.ringBytes():])
				msg, buf := make([]byte, s.size), make([]byte, s.size)
				for i := range protoSlots + 5 {
					binary.LittleEndian.PutUint64(msg, uint64(i))
					if !tx.send(msg, r.dead) {
						t.Fatalf("peer gone at %d", i)
					}
					if seq, ok := rx.recv(buf, r.dead); !ok || seq != uint64(i) {
						t.Fatalf("reply %d carries %d (ok %v)", i, seq, ok)
					}
				}
				r.stop(t)

				r = startProto(t, s.ringBytes(), append([]string{"kind=ring", "role=sink"}, s.args()...)...)
				tx = newRing(s, r.mem[protoData:])
				for i := range 2*protoSlots + 5 {
					binary.LittleEndian.PutUint64(msg, uint64(i))
					if !tx.send(msg, r.dead) {
						t.Fatalf("sink gone at %d: %v", i, r.pr.wait(time.Second))
					}
				}
				if !spinFor(tx.count, tx.next, false, r.dead) {
					t.Fatalf("sink gone before the end: %v", r.pr.wait(time.Second))
				}
				r.stop(t)
			})
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// payloadFloor runs the payload floor called name (bench.PayloadFloors).
func payloadFloor(b *testing.B, name string) {
	defer pinHot(0)()
	switch name {
	case "floor-payload64":
		s, _ := turnNamed(floorPayload64)
		turnPingPong(b, s)
	default:
		b.Skipf("bench: no payload floor %q", name)
	}
}
