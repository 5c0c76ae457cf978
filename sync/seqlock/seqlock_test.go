package seqlock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/shmchan/shmchan/internal/layout"
)

// cell is a Buffer over fresh memory, with its latest word in the first 128
// bytes of the region, as a mailbox header would hold it.
func cell(t testing.TB, slots, maxValue int) (*Buffer, []byte) {
	t.Helper()
	mem := newRegion(t, layout.MboxSlotHeaderSize+slots*Stride(maxValue))
	b, err := New((*uint64)(unsafe.Pointer(&mem[0])), mem[layout.MboxSlotHeaderSize:], slots, maxValue)
	if err != nil {
		t.Fatalf("New(%d slots, max %d): %v", slots, maxValue, err)
	}
	return b, mem
}

// stamp fills v (at least 16 bytes) with bytes derived from seq: seq itself,
// a pattern, and a CRC-32 of the rest in the last 4 bytes.
func stamp(v []byte, seq uint64) {
	binary.LittleEndian.PutUint64(v, seq)
	for i := 8; i < len(v)-4; i++ {
		v[i] = byte(seq*131 + uint64(i)*7)
	}
	binary.LittleEndian.PutUint32(v[len(v)-4:], crc32.ChecksumIEEE(v[:len(v)-4]))
}

// verify checks a value made by stamp and returns its seq.
func verify(v []byte) (uint64, error) {
	if len(v) < 16 {
		return 0, fmt.Errorf("value of %d bytes", len(v))
	}
	seq := binary.LittleEndian.Uint64(v)
	if got, want := binary.LittleEndian.Uint32(v[len(v)-4:]), crc32.ChecksumIEEE(v[:len(v)-4]); got != want {
		return seq, fmt.Errorf("value %d (%d bytes): checksum %#x, want %#x", seq, len(v), got, want)
	}
	for i := 8; i < len(v)-4; i++ {
		if v[i] != byte(seq*131+uint64(i)*7) {
			return seq, fmt.Errorf("value %d: byte %d is %#x", seq, i, v[i])
		}
	}
	return seq, nil
}

func TestStride(t *testing.T) {
	for _, tc := range []struct{ max, want int }{
		{0, 128}, {1, 256}, {128, 256}, {129, 384}, {8294400, 128 + 8294400}, {-1, -1},
		{math.MaxInt - 256, math.MaxInt - 127}, {math.MaxInt - 255, -1}, {math.MaxInt, -1},
	} {
		if got := Stride(tc.max); got != tc.want {
			t.Errorf("Stride(%d) = %d, want %d", tc.max, got, tc.want)
		}
	}
}

func TestNewRejectsBadGeometry(t *testing.T) {
	mem := newRegion(t, 4096)
	latest := (*uint64)(unsafe.Pointer(&mem[0]))
	for _, tc := range []struct {
		name          string
		latest        *uint64
		region        []byte
		slots, maxVal int
	}{
		{"no slots", latest, mem[128:], 0, 8},
		{"too many slots", latest, mem[128:], layout.MboxMaxSlots + 1, 8},
		{"negative max", latest, mem[128:], 1, -1},
		{"does not fit", latest, mem[128:], 4, 1024},
		{"misaligned latest", (*uint64)(unsafe.Pointer(&mem[4])), mem[128:], 1, 8},
		{"misaligned region", latest, mem[129:], 1, 8},
		{"nil latest", nil, mem[128:], 1, 8},
	} {
		if _, err := New(tc.latest, tc.region, tc.slots, tc.maxVal); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
}

func TestPublishRead(t *testing.T) {
	for _, slots := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("slots=%d", slots), func(t *testing.T) {
			b, _ := cell(t, slots, 100)
			got, v, err := b.Read(nil)
			if err != nil || v != 0 || len(got) != 0 {
				t.Fatalf("Read before Publish = %q, %d, %v; want empty, 0, nil", got, v, err)
			}
			dst := make([]byte, 0, 100)
			for i := 1; i <= 10; i++ {
				want := []byte(fmt.Sprintf("value %d %s", i, make([]byte, i*9)))
				pv, err := b.Publish(want)
				if err != nil || pv != uint64(i) {
					t.Fatalf("Publish #%d = %d, %v", i, pv, err)
				}
				got, v, err := b.Read(dst)
				if err != nil || v != uint64(i) || string(got) != string(want) {
					t.Fatalf("Read = %q, %d, %v; want %q, %d, nil", got, v, err, want, i)
				}
				if unsafe.SliceData(got) != unsafe.SliceData(dst) {
					t.Fatalf("Read did not use dst's storage")
				}
			}
			if _, err := b.Publish(make([]byte, 101)); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Publish(101 bytes) = %v, want ErrTooLarge", err)
			}
			got, _, err = b.Read(make([]byte, 3))
			if err != nil || len(got) != 10*9+len("value 10 ") {
				t.Fatalf("Read into a short dst = %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestReadAllocs(t *testing.T) {
	b, _ := cell(t, 3, 1<<16)
	if _, err := b.Publish(make([]byte, 1<<16)); err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 1<<16)
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := b.Read(dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Read into a big enough dst: %v allocations, want 0", allocs)
	}
}

// TestConcurrent runs one writer against several readers that read as fast
// as they can: no torn value, versions never go back, and each value is the
// one its version names.
func TestConcurrent(t *testing.T) {
	if heapRegion && raceEnabled {
		t.Skip("the region is Go heap memory here; the race detector reports a seqlock's discarded copies")
	}
	for _, slots := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("slots=%d", slots), func(t *testing.T) {
			const maxValue = 4096
			b, _ := cell(t, slots, maxValue)
			var stop atomic.Bool
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			var reads, retries atomic.Int64
			for range 3 {
				wg.Go(func() {
					dst := make([]byte, maxValue)
					var last uint64
					for !stop.Load() {
						v, ver, ok, err := b.TryRead(dst)
						if err != nil {
							errs <- err
							return
						}
						if !ok {
							retries.Add(1)
							continue
						}
						reads.Add(1)
						if ver < last {
							errs <- fmt.Errorf("version went back from %d to %d", last, ver)
							return
						}
						last = ver
						if ver == 0 {
							continue
						}
						seq, err := verify(v)
						if err == nil && seq != ver {
							err = fmt.Errorf("version %d holds value %d", ver, seq)
						}
						if err != nil {
							errs <- err
							return
						}
					}
				})
			}
			val := make([]byte, maxValue)
			deadline := time.Now().Add(300 * time.Millisecond)
			var n uint64
			for time.Now().Before(deadline) {
				n++
				v := val[:16+int(n*37%(maxValue-16))]
				stamp(v, n)
				if got, err := b.Publish(v); err != nil || got != n {
					t.Fatalf("Publish #%d = %d, %v", n, got, err)
				}
			}
			stop.Store(true)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			t.Logf("%d publishes, %d reads, %d retries", n, reads.Load(), retries.Load())
		})
	}
}

// TestCorrupt writes impossible states into the region: every read fails
// with ErrCorrupt, none panics, none hangs.
func TestCorrupt(t *testing.T) {
	const maxValue = 64
	for _, tc := range []struct {
		name   string
		mutate func(mem []byte, slot func(v uint64) []byte)
	}{
		{"latest too large", func(mem []byte, slot func(uint64) []byte) {
			binary.LittleEndian.PutUint64(mem, 1<<63)
		}},
		{"slot behind latest", func(mem []byte, slot func(uint64) []byte) {
			binary.LittleEndian.PutUint64(slot(2), 2) // version 1's sequence in version 2's slot
		}},
		{"slot odd for latest", func(mem []byte, slot func(uint64) []byte) {
			binary.LittleEndian.PutUint64(slot(2), 5)
		}},
		{"slot ahead, latest stuck", func(mem []byte, slot func(uint64) []byte) {
			binary.LittleEndian.PutUint64(slot(2), 2*(2+3)+1)
		}},
		{"length too large", func(mem []byte, slot func(uint64) []byte) {
			binary.LittleEndian.PutUint64(slot(2)[layout.MboxSlotOffLen:], maxValue+1)
		}},
		{"length huge", func(mem []byte, slot func(uint64) []byte) {
			binary.LittleEndian.PutUint64(slot(2)[layout.MboxSlotOffLen:], 1<<63)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, mem := cell(t, 3, maxValue)
			for range 2 {
				if _, err := b.Publish([]byte("hello")); err != nil {
					t.Fatal(err)
				}
			}
			tc.mutate(mem, func(v uint64) []byte { return mem[layout.MboxSlotHeaderSize+int(v%3)*b.stride:] })
			if v, ver, err := b.Read(make([]byte, maxValue)); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Read = %q, %d, %v; want ErrCorrupt", v, ver, err)
			}
		})
	}
}

// TestWriterDiesMidPublish leaves a slot half written, as a killed writer
// does: readers still get the previous version, and a new writer carries on.
func TestWriterDiesMidPublish(t *testing.T) {
	b, mem := cell(t, 3, 64)
	for i := range 4 {
		if _, err := b.Publish([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Version 5 was being written into slot 5%3 when the writer died.
	s := mem[layout.MboxSlotHeaderSize+(5%3)*b.stride:]
	binary.LittleEndian.PutUint64(s[layout.MboxSlotOffSeq:], 2*5+1)
	binary.LittleEndian.PutUint64(s[layout.MboxSlotOffLen:], 60)
	if v, ver, err := b.Read(nil); err != nil || ver != 4 || string(v) != "\x03" {
		t.Fatalf("Read = %q, %d, %v; want \\x03, 4, nil", v, ver, err)
	}
	if ver, err := b.Publish([]byte("new")); err != nil || ver != 5 {
		t.Fatalf("Publish after takeover = %d, %v; want 5", ver, err)
	}
	if v, ver, err := b.Read(nil); err != nil || ver != 5 || string(v) != "new" {
		t.Fatalf("Read = %q, %d, %v; want new, 5, nil", v, ver, err)
	}
}

// FuzzRead reads a region of arbitrary bytes: an error or a value, never a
// panic or a hang.
func FuzzRead(f *testing.F) {
	f.Add([]byte{}, uint8(3), uint8(20))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0}, uint8(3), uint8(20))
	f.Fuzz(func(t *testing.T, data []byte, slots, maxValue uint8) {
		n := int(slots%layout.MboxMaxSlots) + 2
		if n > layout.MboxMaxSlots {
			n = layout.MboxMaxSlots
		}
		mem := newRegion(t, layout.MboxSlotHeaderSize+n*Stride(int(maxValue)))
		copy(mem, data)
		b, err := New((*uint64)(unsafe.Pointer(&mem[0])), mem[layout.MboxSlotHeaderSize:], n, int(maxValue))
		if err != nil {
			t.Fatal(err)
		}
		v, _, err := b.Read(nil)
		if err == nil && len(v) > int(maxValue) {
			t.Fatalf("Read returned %d bytes, the limit is %d", len(v), maxValue)
		}
	})
}
