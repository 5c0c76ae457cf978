//go:build unix

package bench

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/shmchan/shmchan/bench/streaming"
)

// The peer roles. Each is started by a harness test at small counts (see
// harness_test.go), so that `go test .` in bench/ checks them all.
func init() {
	registerRole("echo", echo)
	registerRole("sink", sink)
	registerRole("checked-sink", checkedSink)
	registerRole("idle", idle)
}

// isTorn reports whether err is a receive error that means "this message is
// torn" on a lossy transport, rather than a broken link.
func isTorn(err error) bool { return errors.Is(err, streaming.ErrBadLength) }

// echo sends every message back until the parent closes its direction. A
// message the lossy baseline tore so badly that it has no length comes back
// empty, so that the parent counts it and goes on.
func echo(c conn, p peerParams, _ io.Writer) error {
	buf := make([]byte, 0, p.size)
	for {
		m, err := c.recv(buf[:0])
		switch {
		case err == io.EOF:
			return nil
		case isTorn(err):
			m = m[:0]
		case err != nil:
			return fmt.Errorf("echo: recv: %w", err)
		}
		if err := c.send(m); err != nil {
			return fmt.Errorf("echo: send: %w", err)
		}
	}
}

// sink echoes p.warmup messages, then receives until the parent closes its
// direction, checking the sequence number of each message, and reports.
func sink(c conn, p peerParams, ctl io.Writer) error {
	if err := echoN(c, p); err != nil {
		return err
	}
	buf := make([]byte, 0, p.size)
	var t tally
	mallocs := heapAllocs()
	for {
		m, err := c.recv(buf[:0])
		switch {
		case err == io.EOF:
			return writeReport(ctl, report{Recv: t.recv, Torn: t.torn, Dup: t.dup, Mallocs: int64(heapAllocs() - mallocs)})
		case isTorn(err):
			t.torn++
		case err != nil:
			return fmt.Errorf("sink: recv after %d: %w", t.recv, err)
		case len(m) != p.size:
			t.torn++
		default:
			t.add(seqOf(m))
		}
	}
}

// checkedSink is sink with every byte of every message checked.
func checkedSink(c conn, p peerParams, ctl io.Writer) error {
	if err := echoN(c, p); err != nil {
		return err
	}
	pat := newPattern(p.size)
	buf := make([]byte, 0, p.size)
	var t tally
	for {
		m, err := c.recv(buf[:0])
		switch {
		case err == io.EOF:
			return writeReport(ctl, report{Recv: t.recv, Torn: t.torn, Dup: t.dup})
		case isTorn(err):
			t.torn++
		case err != nil:
			return fmt.Errorf("checked-sink: recv after %d: %w", t.recv, err)
		default:
			if seq, ok := pat.check(m); ok {
				t.add(uint64(seq))
			} else {
				t.torn++
			}
		}
	}
}

// idle blocks in recv and reports the CPU time the whole process used while
// it was blocked, once per message, until the parent closes its direction.
func idle(c conn, p peerParams, ctl io.Writer) error {
	buf := make([]byte, 0, p.size)
	for {
		cpu0, err := processCPU()
		if err != nil {
			return err
		}
		t0 := time.Now()
		_, err = c.recv(buf[:0])
		wall := time.Since(t0)
		switch {
		case err == io.EOF:
			return nil
		case err != nil && !isTorn(err):
			return fmt.Errorf("idle: recv: %w", err)
		}
		cpu1, err := processCPU()
		if err != nil {
			return err
		}
		if err := writeReport(ctl, report{CPUNs: int64(cpu1 - cpu0), WallNs: int64(wall)}); err != nil {
			return err
		}
	}
}

// echoN echoes the warm-up messages.
func echoN(c conn, p peerParams) error {
	buf := make([]byte, 0, p.size)
	for i := range p.warmup {
		m, err := c.recv(buf[:0])
		if isTorn(err) {
			m, err = m[:0], nil
		}
		if err != nil {
			return fmt.Errorf("warm-up %d: recv: %w", i, err)
		}
		if err := c.send(m); err != nil {
			return fmt.Errorf("warm-up %d: send: %w", i, err)
		}
	}
	return nil
}

// processCPU returns the user and system time of the whole process, every
// thread included (getrusage(RUSAGE_SELF)).
func processCPU() (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

func heapAllocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// Parent sides of the workloads.

// warmupRounds is how many round trips precede every measured part: enough
// to fault in every page of the largest ring and to let the peer settle.
const warmupRounds = 64

// roundTrip sends msg stamped with seq and returns the reply, counting a
// wrong reply as torn on a lossy transport.
func roundTrip(c conn, msg, buf []byte, seq uint64, lossy bool) (torn bool, err error) {
	stampSeq(msg, seq)
	if err := c.send(msg); err != nil {
		return false, fmt.Errorf("send %d: %w", seq, err)
	}
	r, err := c.recv(buf[:0])
	if isTorn(err) && lossy {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("recv %d: %w", seq, err)
	}
	if len(r) != len(msg) || seqOf(r) != seq {
		if lossy {
			return true, nil
		}
		return false, fmt.Errorf("round trip %d: got %d bytes, seq %d", seq, len(r), seqOfShort(r))
	}
	return false, nil
}

func seqOfShort(r []byte) uint64 {
	if len(r) < 8 {
		return 0
	}
	return seqOf(r)
}

// warmUp runs n round trips.
func warmUp(tb testing.TB, pr *peer, size, n int, lossy bool) {
	tb.Helper()
	msg, buf := make([]byte, size), make([]byte, 0, size)
	for i := range n {
		if _, err := roundTrip(pr.c, msg, buf, uint64(i), lossy); err != nil {
			tb.Fatalf("warm-up: %v", err)
		}
	}
}

// newHistogram returns a histogram of round-trip times in nanoseconds from
// 1 ns to 100 s, at 3 significant digits.
func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(100*time.Second), 3)
}

// reportLatency reports the percentiles of h. Units: nanoseconds per round
// trip.
func reportLatency(b *testing.B, h *hdrhistogram.Histogram) {
	b.ReportMetric(float64(h.ValueAtQuantile(50)), "p50-ns")     // median round trip, ns
	b.ReportMetric(float64(h.ValueAtQuantile(99)), "p99-ns")     // 99th percentile round trip, ns
	b.ReportMetric(float64(h.ValueAtQuantile(99.9)), "p99.9-ns") // 99.9th percentile round trip, ns
	b.ReportMetric(float64(h.Max()), "max-ns")                   // slowest round trip, ns
}

// pingPong measures round trips of size-byte messages: the parent sends, the
// peer echoes, and every round trip goes into the histogram.
func pingPong(b *testing.B, tr *transport, size int) {
	defer pinHot(0)()
	pr := startPeer(b, tr, "echo", peerParams{size: size})
	warmUp(b, pr, size, warmupRounds, tr.lossy)
	msg, buf := make([]byte, size), make([]byte, 0, size)
	h := newHistogram()
	var torn int
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		bad, err := roundTrip(pr.c, msg, buf, uint64(warmupRounds+i), tr.lossy)
		d := time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if bad {
			torn++
		}
		if err := h.RecordValue(int64(d)); err != nil {
			b.Fatalf("record %v: %v", d, err)
		}
	}
	b.StopTimer()
	reportLatency(b, h)
	if tr.lossy {
		b.ReportMetric(float64(torn)/float64(b.N), "torn/op") // replies that were not the request: stale or torn, per round trip
	}
	if err := pr.finish(); err != nil {
		b.Fatal(err)
	}
}

// sinkReport waits for the sink's report after closeSend. On a lossy
// transport the close itself can be overwritten (the reader's "read" store
// lands on the writer's "closed"), so the close is repeated until the peer
// answers.
func sinkReport(pr *peer, lossy bool) (report, error) {
	if !lossy {
		return pr.report(time.Minute)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		rep, err := pr.report(time.Millisecond)
		if err == nil || time.Now().After(deadline) {
			return rep, err
		}
		if err := pr.c.closeSend(); err != nil {
			return rep, err
		}
	}
}

// throughput measures a one-way stream of size-byte messages, from the
// first send to the peer's report that it has received the last.
func throughput(b *testing.B, tr *transport, size int) {
	defer pinHot(0)()
	pr := startPeer(b, tr, "sink", peerParams{size: size, warmup: warmupRounds})
	warmUp(b, pr, size, warmupRounds, tr.lossy)
	st := newStream(pr.c, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	if err := st.send(b.N, func(msg []byte, i int) { stampSeq(msg, uint64(i)) }); err != nil {
		b.Fatal(err)
	}
	if err := pr.c.closeSend(); err != nil {
		b.Fatal(err)
	}
	rep, err := sinkReport(pr, tr.lossy)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")       // messages sent per second, until the last was received
	b.ReportMetric(float64(rep.Mallocs)/float64(b.N), "rx-allocs/op") // heap allocations per message in the receiving process
	if tr.lossy {
		b.ReportMetric(float64(rep.Recv)/float64(b.N), "delivered/op") // fraction of the messages that arrived (in order, first time)
	} else if rep.Recv != int64(b.N) || rep.Torn != 0 || rep.Dup != 0 {
		b.Fatalf("sent %d messages, peer received %d in order, %d torn, %d duplicated", b.N, rep.Recv, rep.Torn, rep.Dup)
	}
	if err := pr.wait(20 * time.Second); err != nil {
		b.Fatal(err)
	}
}

// integrity streams messages in the checked format, every byte checked by
// the peer, and reports how many were lost, torn or repeated.
func integrity(b *testing.B, tr *transport, size int) {
	pr := startPeer(b, tr, "checked-sink", peerParams{size: size, warmup: warmupRounds})
	warmUp(b, pr, size, warmupRounds, tr.lossy)
	pat := newPattern(size)
	msg := make([]byte, size)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := range b.N {
		pat.fill(msg, uint32(i))
		if err := pr.c.send(msg); err != nil {
			b.Fatalf("send %d: %v", i, err)
		}
	}
	if err := pr.c.closeSend(); err != nil {
		b.Fatal(err)
	}
	rep, err := sinkReport(pr, tr.lossy)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	n := float64(b.N)
	b.ReportMetric(float64(int64(b.N)-rep.Recv)/n, "lost/op") // messages never received intact, per message sent
	b.ReportMetric(float64(rep.Torn)/n, "torn/op")            // messages received with bytes from two writes (or a bad length), per message sent
	b.ReportMetric(float64(rep.Dup)/n, "dup/op")              // intact messages received again or out of order, per message sent
	if !tr.lossy && (rep.Recv != int64(b.N) || rep.Torn != 0 || rep.Dup != 0) {
		b.Fatalf("sent %d messages, peer received %d intact, %d torn, %d duplicated", b.N, rep.Recv, rep.Torn, rep.Dup)
	}
	if err := pr.wait(20 * time.Second); err != nil {
		b.Fatal(err)
	}
}

// idleWindow is how long the receiver stays blocked per benchmark op.
const idleWindow = 250 * time.Millisecond

// idleCost measures the CPU time of a receiver blocked in recv, per second
// of idleness.
func idleCost(b *testing.B, tr *transport) {
	pr := startPeer(b, tr, "idle", peerParams{size: 8})
	msg := make([]byte, 8)
	wake := func() report {
		if err := pr.c.send(msg); err != nil {
			b.Fatal(err)
		}
		rep, err := pr.report(time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		return rep
	}
	time.Sleep(idleWindow / 4) // let the peer settle; this window is not counted
	wake()
	var cpu, wall int64
	b.ResetTimer()
	for range b.N {
		time.Sleep(idleWindow)
		rep := wake()
		cpu += rep.CPUNs
		wall += rep.WallNs
	}
	b.StopTimer()
	b.ReportMetric(100*float64(cpu)/float64(wall), "cpu-%") // CPU time of the blocked receiver's process, percent of one core
	if err := pr.finish(); err != nil {
		b.Fatal(err)
	}
}

// batchSender is a conn that sends several messages with one call
// (shmchan-batch): a one-way stream goes through it in batches of
// batchSize.
type batchSender interface {
	// sendBatch sends every message of msgs, in order.
	sendBatch(msgs [][]byte) error
}

// batchSize is how many messages a batchSender's stream sends per call.
const batchSize = 32

// stream sends numbered messages one way, one by one or, over a
// batchSender, batchSize at a time. Its buffers are made before the
// measured part.
type stream struct {
	c    conn
	bs   batchSender // nil: one by one
	msgs [][]byte
}

func newStream(c conn, size int) *stream {
	s := &stream{c: c}
	k := 1
	if bs, ok := c.(batchSender); ok {
		s.bs, k = bs, batchSize
	}
	s.msgs = make([][]byte, k)
	for i := range s.msgs {
		s.msgs[i] = make([]byte, size)
	}
	return s
}

// send sends messages 0..n-1, each filled by fill first.
func (s *stream) send(n int, fill func(msg []byte, i int)) error {
	if s.bs == nil {
		for i := range n {
			fill(s.msgs[0], i)
			if err := s.c.send(s.msgs[0]); err != nil {
				return fmt.Errorf("send %d: %w", i, err)
			}
		}
		return nil
	}
	for i := 0; i < n; i += batchSize {
		k := min(batchSize, n-i)
		for j := range k {
			fill(s.msgs[j], i+j)
		}
		if err := s.bs.sendBatch(s.msgs[:k]); err != nil {
			return fmt.Errorf("send batch at %d: %w", i, err)
		}
	}
	return nil
}
