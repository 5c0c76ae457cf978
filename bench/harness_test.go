//go:build unix

package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
)

// The harness tests run every role of every transport, and both floors, at
// small counts: they check the plumbing that the benchmarks rely on, and
// that shmchan delivers every message intact where the streaming baseline
// does not promise to. They keep `go test .` in bench/ to a few seconds.

const harnessMessages = 500

// harnessSizes covers the copied-frame and two-write paths of the stream
// transports.
var harnessSizes = []int{8, 64<<10 + 8}

func TestHarness(t *testing.T) {
	// Under the race detector (whose children start slowly) and with -short,
	// the cross-process transports only echo small messages; the in-process
	// reference, which the race detector can see whole, runs everything.
	scaledDown := raceEnabled || testing.Short()
	if scaledDown {
		testproc.MarkUsed("bench-sink", "bench-checked-sink", "bench-idle")
	}
	for _, tr := range transports {
		t.Run("transport="+tr.name, func(t *testing.T) {
			if scaledDown && tr.pair == nil {
				t.Run("size=8/role=echo", func(t *testing.T) { checkEcho(t, tr, 8) })
				return
			}
			for _, size := range harnessSizes {
				t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
					t.Run("role=echo", func(t *testing.T) { checkEcho(t, tr, size) })
					t.Run("role=sink", func(t *testing.T) { checkSink(t, tr, size, "sink") })
					t.Run("role=checked-sink", func(t *testing.T) { checkSink(t, tr, size, "checked-sink") })
				})
			}
			if tr.pair == nil {
				t.Run("role=idle", func(t *testing.T) { checkIdle(t, tr) })
			}
		})
	}
}

func checkEcho(t *testing.T, tr *transport, size int) {
	pr := startPeer(t, tr, "echo", peerParams{size: size})
	msg, buf := make([]byte, size), make([]byte, 0, size)
	var torn int
	for i := range 50 {
		bad, err := roundTrip(pr.c, msg, buf, uint64(i), tr.lossy)
		if err != nil {
			t.Fatal(err)
		}
		if bad {
			torn++
		}
	}
	if err := pr.finish(); err != nil {
		t.Fatal(err)
	}
	if tr.lossy {
		t.Logf("%d of 50 replies were stale or torn", torn)
	}
}

func checkSink(t *testing.T, tr *transport, size int, role string) {
	pr := startPeer(t, tr, role, peerParams{size: size, warmup: 4})
	warmUp(t, pr, size, 4, tr.lossy)
	pat := newPattern(size)
	// As throughput streams: in batches over a batchSender.
	err := newStream(pr.c, size).send(harnessMessages, func(msg []byte, i int) {
		if role == "checked-sink" {
			pat.fill(msg, uint32(i))
		} else {
			stampSeq(msg, uint64(i))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := pr.c.closeSend(); err != nil {
		t.Fatal(err)
	}
	rep, err := sinkReport(pr, tr.lossy)
	if err != nil {
		t.Fatal(err)
	}
	if err := pr.wait(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	lost := harnessMessages - rep.Recv
	switch {
	case lost < 0:
		t.Fatalf("received %d of %d messages in order: more than were sent", rep.Recv, harnessMessages)
	case tr.lossy:
		t.Logf("%d sent: %d received, %d lost, %d torn, %d duplicated", harnessMessages, rep.Recv, lost, rep.Torn, rep.Dup)
	case lost != 0 || rep.Torn != 0 || rep.Dup != 0:
		t.Fatalf("%d sent: %d received, %d lost, %d torn, %d duplicated", harnessMessages, rep.Recv, lost, rep.Torn, rep.Dup)
	}
}

func checkIdle(t *testing.T, tr *transport) {
	pr := startPeer(t, tr, "idle", peerParams{size: 8})
	time.Sleep(10 * time.Millisecond)
	if err := pr.c.send(make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	rep, err := pr.report(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rep.WallNs < int64(5*time.Millisecond) || rep.CPUNs < 0 {
		t.Fatalf("idle report %+v: want a wall time of at least the 10ms sleep", rep)
	}
	if err := pr.finish(); err != nil {
		t.Fatal(err)
	}
}

func TestFloors(t *testing.T) {
	for _, f := range floors {
		t.Run("transport="+f.name, func(t *testing.T) {
			r := startFloor(t, f)
			for i := range 200 {
				r.turn(t, i)
			}
			r.stop(t)
		})
	}
}

func TestPatternCatchesTears(t *testing.T) {
	for _, size := range []int{8, 16, 64, 4096} {
		p := newPattern(size)
		a, b := make([]byte, size), make([]byte, size)
		p.fill(a, 7)
		p.fill(b, 8)
		if seq, ok := p.check(a); !ok || seq != 7 {
			t.Fatalf("size %d: check(fill(7)) = %d, %v", size, seq, ok)
		}
		// Every split point of a into b must be caught: the head of one
		// write and the tail of the next.
		m := make([]byte, size)
		for cut := 1; cut < size; cut++ {
			copy(m, b[:cut])
			copy(m[cut:], a[cut:])
			if _, ok := p.check(m); ok && !equalBytes(m, a) && !equalBytes(m, b) {
				t.Fatalf("size %d: a tear at byte %d passed the check", size, cut)
			}
		}
		if _, ok := p.check(a[:size-1]); ok {
			t.Fatalf("size %d: a short message passed the check", size)
		}
	}
}

func equalBytes(a, b []byte) bool { return string(a) == string(b) }

func TestTally(t *testing.T) {
	var tl tally
	for _, seq := range []uint64{0, 1, 3, 3, 2, 7} {
		tl.add(seq)
	}
	// 0, 1, 3, 7 are new; the second 3 and the late 2 are duplicates;
	// 2, 4, 5 and 6 never arrived in order: 8 sent, 4 received.
	if tl.recv != 4 || tl.dup != 2 || tl.next != 8 {
		t.Fatalf("tally = %+v, want recv 4, dup 2, next 8", tl)
	}
}
