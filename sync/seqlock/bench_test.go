package seqlock

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmchan/shmchan/sync/seqlock/internal/cfence"
)

// Benchmark sizes: a small message and one 1920x1080 RGBA frame.
var benchSizes = []int{64, 1920 * 1080 * 4}

// checks are the reader's second sequence checks under comparison: the
// pure-Go read-modify-write that the package uses, and the C copy with an
// acquire fence (cgo builds only).
var checks = []struct {
	name string
	f    func(dst, src []byte, seq *uint64) uint64
}{
	{"rmw", nil},
	{"cgo", cfence.Copy},
}

// BenchmarkRead measures a reader against a writer that publishes back to
// back, the worst case for a seqlock, for 1, 2 and 3 slots and both checks.
// One op is one read attempt (TryRead). Custom units:
//
//	torn/op   the fraction of attempts the writer overwrote (retried)
//	ns/read   wall time per successful read: what a reader waits for a value
//	MB/s      value bytes per second of successful reads only
//
// The package doc quotes the results that chose three slots and the pure-Go
// check.
//
// readers=3 adds two more readers that read back to back too (on 2 cores,
// they compete with the measured one for processor and memory bandwidth), so
// that each read takes longer: the case where a third slot should matter.
func BenchmarkRead(b *testing.B) {
	for _, size := range benchSizes {
		for _, slots := range []int{1, 2, 3} {
			for _, c := range checks {
				b.Run(fmt.Sprintf("size=%d/slots=%d/readers=1/check=%s", size, slots, c.name), func(b *testing.B) {
					if c.name == "cgo" && !cfence.Available {
						b.Skip("built without cgo")
					}
					benchRead(b, size, slots, 1, c.f)
				})
			}
		}
	}
	for _, slots := range []int{2, 3} {
		size := benchSizes[len(benchSizes)-1]
		b.Run(fmt.Sprintf("size=%d/slots=%d/readers=3/check=rmw", size, slots), func(b *testing.B) {
			benchRead(b, size, slots, 3, nil)
		})
	}
}

func benchRead(b *testing.B, size, slots, readers int, check func(dst, src []byte, seq *uint64) uint64) {
	buf, _ := cell(b, slots, size)
	buf.check = check
	value := make([]byte, size)
	if _, err := buf.Publish(value); err != nil {
		b.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			value[0] = byte(i)
			if _, err := buf.Publish(value); err != nil {
				panic(err)
			}
		}
	})
	for range readers - 1 {
		wg.Go(func() {
			dst := make([]byte, size)
			for !stop.Load() {
				if _, _, _, err := buf.TryRead(dst); err != nil {
					panic(err)
				}
			}
		})
	}
	dst := make([]byte, size)
	var good int
	start := time.Now()
	b.ResetTimer()
	for b.Loop() {
		_, _, ok, err := buf.TryRead(dst)
		if err != nil {
			b.Fatal(err)
		}
		if ok {
			good++
		}
	}
	b.StopTimer()
	elapsed := time.Since(start)
	stop.Store(true)
	wg.Wait()
	b.ReportMetric(float64(b.N-good)/float64(b.N), "torn/op")
	if good > 0 {
		b.ReportMetric(float64(elapsed.Nanoseconds())/float64(good), "ns/read")
	}
	b.ReportMetric(float64(good)*float64(size)/elapsed.Seconds()/1e6, "MB/s")
}

// BenchmarkReadIdle measures a read with no writer: the cost of the check
// itself next to the copy, against a plain copy of the same size.
func BenchmarkReadIdle(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d/check=copy", size), func(b *testing.B) {
			src, dst := newRegion(b, size), make([]byte, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				copy(dst, src)
			}
		})
		for _, c := range checks {
			b.Run(fmt.Sprintf("size=%d/check=%s", size, c.name), func(b *testing.B) {
				if c.name == "cgo" && !cfence.Available {
					b.Skip("built without cgo")
				}
				buf, _ := cell(b, 3, size)
				buf.check = c.f
				if _, err := buf.Publish(make([]byte, size)); err != nil {
					b.Fatal(err)
				}
				dst := make([]byte, size)
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, _, err := buf.Read(dst); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkPublish measures the writer while a reader reads back to back:
// the writer never waits, whatever the reader does.
func BenchmarkPublish(b *testing.B) {
	for _, size := range benchSizes {
		for _, slots := range []int{1, 3} {
			b.Run(fmt.Sprintf("size=%d/slots=%d", size, slots), func(b *testing.B) {
				buf, _ := cell(b, slots, size)
				var stop atomic.Bool
				var wg sync.WaitGroup
				wg.Go(func() {
					dst := make([]byte, size)
					for !stop.Load() {
						if _, _, _, err := buf.TryRead(dst); err != nil {
							panic(err)
						}
					}
				})
				value := make([]byte, size)
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := buf.Publish(value); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				stop.Store(true)
				wg.Wait()
			})
		}
	}
}
