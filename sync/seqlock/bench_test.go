package seqlock

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmchan/shmchan/sync/seqlock/internal/cfence"
)

// Benchmark sizes: a small message and one 1920x1080 RGBA frame.
var benchSizes = []int{64, 1920 * 1080 * 4}

// tryReadFunc is one read attempt, as Buffer.TryRead.
type tryReadFunc func(b *Buffer, dst []byte) (value []byte, version uint64, ok bool, err error)

// checks are the reader's second sequence checks under comparison: the
// pure-Go read-modify-write that the package uses (TryRead itself), and the
// C copy with an acquire fence (cgo builds only).
var checks = []struct {
	name string
	f    tryReadFunc
}{
	{"rmw", (*Buffer).TryRead},
	{"cgo", tryReadFenced},
}

// tryReadFenced is TryRead with the copy and the second check done in C
// (cfence.Copy: memcpy, acquire fence, relaxed load) instead of copy and
// the read-modify-write. It must stay TryRead in every other step.
func tryReadFenced(b *Buffer, dst []byte) (value []byte, version uint64, ok bool, err error) {
	v, err := b.Version()
	if err != nil || v == 0 {
		return dst[:0], 0, err == nil, err
	}
	seq, length, data := b.slot(v)
	// SYNC(mb_seq): acquire; pairs with the writer's even store.
	s := atomic.LoadUint64(seq)
	if s != 2*v {
		return dst[:0], v, false, b.lapped(v, s)
	}
	// SYNC(mb_len): read inside the seqlock window; checked below before use.
	n := atomic.LoadUint64(length)
	if n > uint64(b.max) || n > uint64(cap(dst)) {
		if !b.stable(seq, s) {
			return dst[:0], v, false, nil
		}
		if n > uint64(b.max) {
			return dst[:0], v, false, fmt.Errorf("seqlock: version %d has length %d, the limit is %d: %w", v, n, b.max, ErrCorrupt)
		}
		dst = make([]byte, n)
	}
	dst = dst[:n]
	return dst, v, cfence.Copy(dst, data[:n], seq) == s, nil
}

// readWith is Buffer.Read over the given attempt.
func readWith(b *Buffer, dst []byte, try tryReadFunc) ([]byte, uint64, error) {
	for i := 0; ; i++ {
		value, version, ok, err := try(b, dst)
		if ok || err != nil {
			return value, version, err
		}
		dst = value[:0]
		if i >= retriesBeforeYield {
			runtime.Gosched()
		}
	}
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
			benchRead(b, size, slots, 3, (*Buffer).TryRead)
		})
	}
}

func benchRead(b *testing.B, size, slots, readers int, try tryReadFunc) {
	buf, _ := cell(b, slots, size)
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
		_, _, ok, err := try(buf, dst)
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
				if _, err := buf.Publish(make([]byte, size)); err != nil {
					b.Fatal(err)
				}
				dst := make([]byte, size)
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, _, err := readWith(buf, dst, c.f); err != nil {
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
