//go:build unix

package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
)

func TestMain(m *testing.M) { testproc.Main(m) }

// forEach runs f for every transport and size, as transport=T/size=N.
func forEach(b *testing.B, names []string, f func(*testing.B, *transport, int)) {
	for _, tr := range pick(b, names...) {
		b.Run("transport="+tr.name, func(b *testing.B) {
			for _, size := range Sizes {
				b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) { f(b, tr, size) })
			}
		})
	}
}

// BenchmarkPingPong measures round trips: the floors first (no payload,
// size=0), then the payload floors at their size, then every transport at
// every size.
func BenchmarkPingPong(b *testing.B) {
	for _, name := range Floors {
		b.Run("transport="+name, func(b *testing.B) {
			f := floorNamed(b, name)
			b.Run("size=0", func(b *testing.B) { floorPingPong(b, f) })
		})
	}
	for _, name := range PayloadFloorNames {
		b.Run("transport="+name, func(b *testing.B) {
			b.Run(fmt.Sprintf("size=%d", PayloadFloors[name]), func(b *testing.B) { payloadFloor(b, name) })
		})
	}
	forEach(b, PingPongTransports, pingPong)
}

// BenchmarkThroughput measures one-way streams of messages.
func BenchmarkThroughput(b *testing.B) { forEach(b, ThroughputTransports, throughput) }

// BenchmarkIntegrity streams checked messages and counts the lost, torn and
// repeated ones.
func BenchmarkIntegrity(b *testing.B) { forEach(b, IntegrityTransports, integrity) }

// BenchmarkIdle measures the CPU cost of a blocked receiver.
func BenchmarkIdle(b *testing.B) {
	for _, tr := range pick(b, IdleTransports...) {
		b.Run("transport="+tr.name, func(b *testing.B) { idleCost(b, tr) })
	}
}

// BenchmarkMemcpy copies a message in one goroutine: the single-core memory
// bandwidth that a copying channel is held against.
func BenchmarkMemcpy(b *testing.B) {
	b.Run("transport=memcpy", func(b *testing.B) {
		for _, size := range Sizes {
			b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
				src, dst := make([]byte, size), make([]byte, size)
				for i := range src {
					src[i] = byte(i)
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					copy(dst, src)
				}
			})
		}
	})
}

// BenchmarkClock times an empty interval the way every round trip is timed
// (time.Now, then time.Since): its p50 is the clock's share of each
// round-trip sample, which the report removes from both sides of a ratio to
// the floor.
func BenchmarkClock(b *testing.B) {
	h := newHistogram()
	for range b.N {
		t0 := time.Now()
		if err := h.RecordValue(int64(time.Since(t0))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(h.ValueAtQuantile(50)), "p50-ns") // median measured length of an empty interval, ns
}
