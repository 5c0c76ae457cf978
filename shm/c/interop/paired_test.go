package interop_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shmchan/shmchan/shm"
)

// BenchmarkThroughputPaired streams 64-byte messages with WithWait(Block)
// into a C and a Go receiver in turn, a block of pairedMsgs each, for
// pairedCycles cycles, both sinks running all along: each parks between its
// blocks, so only the one being measured runs. BenchmarkThroughput runs the
// two receivers in sub-benchmarks seconds apart, and the host changes speed
// within a second (docs/design.md, "The machine's two speeds"): its C ÷ Go
// ratio of one round ranged 0.27×..2.09× across reports. Here each cycle's
// ratio compares blocks a few milliseconds apart.
//
// A block is timed from its first Send until the receiver's counter (its
// line of the channel's header, read through Stats) shows the block's last
// message received. Reported: c-msgs/s and go-msgs/s, the medians over the
// cycles; ratio, the median of the cycles' C ÷ Go, and ratio-p10 and
// ratio-p90; c-rx-waits/msg and go-rx-waits/msg, how often each receiver
// found the ring empty.
func BenchmarkThroughputPaired(b *testing.B) {
	b.Run(fmt.Sprintf("wait=block/size=%d", benchMsg), func(b *testing.B) {
		res := pairedThroughput(b, pairedCycles, pairedMsgs)
		for range b.N {
		}
		for _, m := range res {
			b.ReportMetric(m.v, m.unit)
		}
	})
}

const (
	pairedCycles = 40
	pairedMsgs   = 100_000
)

type metric struct {
	v    float64
	unit string
}

// pairedThroughput runs the cycles and returns the figures.
func pairedThroughput(tb testing.TB, cycles, msgs int) []metric {
	tb.Helper()
	type arm struct {
		peer string
		ch   *shm.Channel
		tx   *shm.Sender
		done func() []string
		rate []float64
		sent uint64
	}
	var arms []*arm
	for _, pk := range benchPeers {
		name := newName(tb)
		ch, tx := createEnd(tb, name, 1<<20, shm.Block, (*shm.Channel).Sender)
		defer ch.Close()
		arms = append(arms, &arm{peer: pk, ch: ch, tx: tx, done: startSink(tb, pk, name, "block", false)})
	}
	msg := bytes.Repeat([]byte{0x5A}, benchMsg)
	for c := -1; c < cycles; c++ { // cycle -1 warms up
		for _, a := range arms {
			start := time.Now()
			for range msgs {
				if err := a.tx.Send(msg); err != nil {
					tb.Fatal(err)
				}
			}
			a.sent += uint64(msgs)
			for {
				st, err := a.ch.Stats()
				if err != nil {
					tb.Fatal(err)
				}
				if st.Receiver.Messages >= a.sent {
					break
				}
			}
			if c >= 0 {
				a.rate = append(a.rate, float64(msgs)/time.Since(start).Seconds())
			}
		}
	}
	var out []metric
	for _, a := range arms {
		st, err := a.ch.Stats()
		if err != nil {
			tb.Fatal(err)
		}
		if err := a.tx.Close(); err != nil {
			tb.Fatal(err)
		}
		lines := a.done()
		if want := fmt.Sprintf("sink %d %d", a.sent, a.sent*benchMsg); len(lines) == 0 || lines[0] != want {
			tb.Fatalf("%s sink said %q, want %q", a.peer, lines, want)
		}
		out = append(out, metric{quantile(a.rate, 0.5), a.peer + "-msgs/s"},
			metric{float64(st.Receiver.Waits) / float64(a.sent), a.peer + "-rx-waits/msg"})
	}
	q := make([]float64, cycles)
	for c := range q {
		q[c] = arms[0].rate[c] / arms[1].rate[c] // benchPeers: c, then go
	}
	return append(out, metric{quantile(q, 0.5), "ratio"}, metric{quantile(q, 0.1), "ratio-p10"}, metric{quantile(q, 0.9), "ratio-p90"})
}

// quantile returns the q-quantile of vs (nearest rank below; the mean of
// the middle two for the median of an even count).
func quantile(vs []float64, q float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if q == 0.5 && len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[int(q*float64(len(s)-1))]
}

// TestThroughputPaired runs BenchmarkThroughputPaired's schedule briefly.
func TestThroughputPaired(t *testing.T) {
	for _, m := range pairedThroughput(t, 3, 2000) {
		t.Logf("%s %g", m.unit, m.v)
		if m.v < 0 || m.v != m.v {
			t.Errorf("%s = %v", m.unit, m.v)
		}
	}
}
