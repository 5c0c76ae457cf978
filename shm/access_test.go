package shm_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"testing"

	"github.com/shmchan/shmchan/shm"
)

func TestReadAt(t *testing.T) {
	const size = 16
	s := create(t, size)
	content := pattern(size, 5)
	if _, err := s.WriteAt(content, 0); err != nil {
		t.Fatalf("WriteAt: %v", err)
	}
	tests := []struct {
		off     int64
		len     int
		wantN   int
		wantErr string
	}{
		{0, size, size, "nil"},
		{0, 0, 0, "nil"},
		{8, 8, 8, "nil"},
		{12, 8, 4, "EOF"}, // io.ReaderAt: a short read says why
		{size, 0, 0, "nil"},
		{size, 1, 0, "EOF"},
		{size + 1, 0, 0, "EOF"},
		{size + 1, 1, 0, "EOF"},
		{math.MaxInt64, 1, 0, "EOF"},
		{-1, 1, 0, "ErrOutOfRange"},
		{-1, 0, 0, "ErrOutOfRange"},
		{math.MinInt64, 1, 0, "ErrOutOfRange"},
	}
	for _, tt := range tests {
		buf := make([]byte, tt.len)
		n, err := s.ReadAt(buf, tt.off)
		if n != tt.wantN || errorKind(err) != tt.wantErr {
			t.Errorf("ReadAt(%d bytes, %d) = %d, %v, want %d, %s", tt.len, tt.off, n, err, tt.wantN, tt.wantErr)
			continue
		}
		if n > 0 {
			if diff := diffBytes(content[tt.off:tt.off+int64(n)], buf[:n]); diff != "" {
				t.Errorf("ReadAt(%d bytes, %d) read (-want +got):\n%s", tt.len, tt.off, diff)
			}
		}
	}
}

func TestWriteAt(t *testing.T) {
	const size = 16
	s := create(t, size)
	model := make([]byte, size) // what the segment must hold
	tests := []struct {
		off     int64
		len     int
		wantN   int
		wantErr string
	}{
		{0, size, size, "nil"},
		{4, 4, 4, "nil"},
		{12, 8, 4, "ErrOutOfRange"}, // writes what fits
		{size, 0, 0, "nil"},
		{size, 1, 0, "ErrOutOfRange"},
		{size + 1, 0, 0, "ErrOutOfRange"},
		{math.MaxInt64, 1, 0, "ErrOutOfRange"},
		{-1, 1, 0, "ErrOutOfRange"},
		{math.MinInt64, 1, 0, "ErrOutOfRange"},
	}
	for i, tt := range tests {
		p := pattern(tt.len, byte(i+1))
		n, err := s.WriteAt(p, tt.off)
		if n != tt.wantN || errorKind(err) != tt.wantErr {
			t.Errorf("WriteAt(%d bytes, %d) = %d, %v, want %d, %s", tt.len, tt.off, n, err, tt.wantN, tt.wantErr)
		}
		if n < tt.len && err != nil && n > 0 && !errors.Is(err, io.ErrShortWrite) {
			t.Errorf("short WriteAt(%d bytes, %d) = %v, want it to match io.ErrShortWrite too", tt.len, tt.off, err)
		}
		if tt.off >= 0 && tt.off <= size {
			copy(model[tt.off:], p)
		}
		if diff := diffBytes(model, s.Bytes()); diff != "" {
			t.Fatalf("after WriteAt(%d bytes, %d) (-want +got):\n%s", tt.len, tt.off, diff)
		}
	}
}

// accessor is one width of the typed little-endian accessors.
type accessor struct {
	width int
	read  func(s *shm.Segment, off int64) (uint64, error)
	write func(s *shm.Segment, off int64, v uint64) error
	put   func(b []byte, v uint64) // the expected byte layout
}

var accessors = []accessor{
	{1,
		func(s *shm.Segment, off int64) (uint64, error) { v, err := s.ReadUint8(off); return uint64(v), err },
		func(s *shm.Segment, off int64, v uint64) error { return s.WriteUint8(off, uint8(v)) },
		func(b []byte, v uint64) { b[0] = uint8(v) }},
	{2,
		func(s *shm.Segment, off int64) (uint64, error) { v, err := s.ReadUint16(off); return uint64(v), err },
		func(s *shm.Segment, off int64, v uint64) error { return s.WriteUint16(off, uint16(v)) },
		func(b []byte, v uint64) { binary.LittleEndian.PutUint16(b, uint16(v)) }},
	{4,
		func(s *shm.Segment, off int64) (uint64, error) { v, err := s.ReadUint32(off); return uint64(v), err },
		func(s *shm.Segment, off int64, v uint64) error { return s.WriteUint32(off, uint32(v)) },
		func(b []byte, v uint64) { binary.LittleEndian.PutUint32(b, uint32(v)) }},
	{8,
		func(s *shm.Segment, off int64) (uint64, error) { return s.ReadUint64(off) },
		func(s *shm.Segment, off int64, v uint64) error { return s.WriteUint64(off, v) },
		func(b []byte, v uint64) { binary.LittleEndian.PutUint64(b, v) }},
}

// TestTypedAccessors writes and reads every width at every offset, aligned
// or not, and checks the little-endian layout against a model.
func TestTypedAccessors(t *testing.T) {
	const size = 32
	for _, a := range accessors {
		t.Run(fmt.Sprintf("width=%d", a.width), func(t *testing.T) {
			s := create(t, size)
			model := make([]byte, size)
			for off := int64(0); off <= size-int64(a.width); off++ {
				v := 0x0807060504030201 + uint64(off)<<56
				if err := a.write(s, off, v); err != nil {
					t.Fatalf("write %d bytes at %d: %v", a.width, off, err)
				}
				a.put(model[off:], v)
				if diff := diffBytes(model, s.Bytes()); diff != "" {
					t.Fatalf("after write %d bytes at %d (-want +got):\n%s", a.width, off, diff)
				}
				got, err := a.read(s, off)
				mask := uint64(1)<<(8*a.width) - 1
				if a.width == 8 {
					mask = math.MaxUint64
				}
				if err != nil || got != v&mask {
					t.Fatalf("read %d bytes at %d = %#x, %v, want %#x", a.width, off, got, err, v&mask)
				}
			}
		})
	}
}

// TestTypedAccessorsOutOfRange checks every width at offsets that do not
// fit: an error matching ErrOutOfRange, no change, and no panic.
func TestTypedAccessorsOutOfRange(t *testing.T) {
	const size = 32
	s := create(t, size)
	before := bytes.Clone(s.Bytes())
	for _, a := range accessors {
		w := int64(a.width)
		for _, off := range []int64{-1, -w, size - w + 1, size, size + 1, math.MaxInt64, math.MaxInt64 - w + 2, math.MinInt64} {
			if off == size-w+1 && w == 1 {
				continue // that is size, listed already
			}
			if _, err := a.read(s, off); !errors.Is(err, shm.ErrOutOfRange) {
				t.Errorf("read %d bytes at %d = %v, want ErrOutOfRange", w, off, err)
			}
			if err := a.write(s, off, math.MaxUint64); !errors.Is(err, shm.ErrOutOfRange) {
				t.Errorf("write %d bytes at %d = %v, want ErrOutOfRange", w, off, err)
			}
		}
	}
	if diff := diffBytes(before, s.Bytes()); diff != "" {
		t.Errorf("refused writes changed the segment (-before +after):\n%s", diff)
	}
}

// atomicOps are the four atomic calls of one width, each returning the value
// it read or produced.
type atomicOps struct {
	width int
	calls map[string]func(s *shm.Segment, off int64) (uint64, error)
}

var atomicWidths = []atomicOps{
	{4, map[string]func(s *shm.Segment, off int64) (uint64, error){
		"LoadUint32":  func(s *shm.Segment, off int64) (uint64, error) { v, err := s.LoadUint32(off); return uint64(v), err },
		"StoreUint32": func(s *shm.Segment, off int64) (uint64, error) { return 0, s.StoreUint32(off, 1) },
		"CompareAndSwapUint32": func(s *shm.Segment, off int64) (uint64, error) {
			ok, err := s.CompareAndSwapUint32(off, 0, 1)
			return b2u(ok), err
		},
		"AddUint32": func(s *shm.Segment, off int64) (uint64, error) { v, err := s.AddUint32(off, 1); return uint64(v), err },
	}},
	{8, map[string]func(s *shm.Segment, off int64) (uint64, error){
		"LoadUint64":  func(s *shm.Segment, off int64) (uint64, error) { return s.LoadUint64(off) },
		"StoreUint64": func(s *shm.Segment, off int64) (uint64, error) { return 0, s.StoreUint64(off, 1) },
		"CompareAndSwapUint64": func(s *shm.Segment, off int64) (uint64, error) {
			ok, err := s.CompareAndSwapUint64(off, 0, 1)
			return b2u(ok), err
		},
		"AddUint64": func(s *shm.Segment, off int64) (uint64, error) { return s.AddUint64(off, 1) },
	}},
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// TestAtomicsBadOffset checks that every atomic call refuses a misaligned
// or out-of-range offset with an error, never a panic or a torn access, and
// changes nothing.
func TestAtomicsBadOffset(t *testing.T) {
	const size = 64
	s := create(t, size)
	before := bytes.Clone(s.Bytes())
	for _, w := range atomicWidths {
		n := int64(w.width)
		cases := map[int64]string{
			-n:             "ErrOutOfRange",
			-1:             "ErrOutOfRange",
			size:           "ErrOutOfRange",
			size - n + 1:   "ErrOutOfRange", // misaligned too, but it does not fit
			size + n:       "ErrOutOfRange",
			math.MaxInt64:  "ErrOutOfRange",
			math.MinInt64:  "ErrOutOfRange",
			1:              "ErrMisaligned",
			n/2 + n:        "ErrMisaligned",
			size - n - 1:   "ErrMisaligned",
			size - 2*n + 1: "ErrMisaligned",
		}
		if n == 8 {
			cases[size-4] = "ErrOutOfRange" // 4-aligned, but 8 bytes do not fit
			cases[4] = "ErrMisaligned"
		}
		for name, call := range w.calls {
			for off, want := range cases {
				if _, err := call(s, off); errorKind(err) != want {
					t.Errorf("%s(%d) = %v, want %s", name, off, err, want)
				}
			}
		}
	}
	if diff := diffBytes(before, s.Bytes()); diff != "" {
		t.Errorf("refused atomics changed the segment (-before +after):\n%s", diff)
	}
}

func TestAtomics(t *testing.T) {
	s := create(t, 64)
	if err := s.StoreUint32(4, 10); err != nil {
		t.Fatalf("StoreUint32: %v", err)
	}
	if v, err := s.LoadUint32(4); v != 10 || err != nil {
		t.Errorf("LoadUint32 = %d, %v, want 10", v, err)
	}
	if ok, err := s.CompareAndSwapUint32(4, 9, 20); ok || err != nil {
		t.Errorf("CompareAndSwapUint32(4, 9, 20) of 10 = %v, %v, want false", ok, err)
	}
	if ok, err := s.CompareAndSwapUint32(4, 10, 20); !ok || err != nil {
		t.Errorf("CompareAndSwapUint32(4, 10, 20) of 10 = %v, %v, want true", ok, err)
	}
	if v, err := s.AddUint32(4, ^uint32(0)); v != 19 || err != nil {
		t.Errorf("AddUint32(4, -1) of 20 = %d, %v, want 19", v, err)
	}
	if v, _ := s.ReadUint32(4); v != 19 {
		t.Errorf("ReadUint32 after atomics = %d, want 19 (the machine order is little-endian)", v)
	}

	if err := s.StoreUint64(8, math.MaxUint64); err != nil {
		t.Fatalf("StoreUint64: %v", err)
	}
	if v, err := s.AddUint64(8, 2); v != 1 || err != nil {
		t.Errorf("AddUint64 wrapping = %d, %v, want 1", v, err)
	}
	if ok, err := s.CompareAndSwapUint64(8, 1, 1<<40); !ok || err != nil {
		t.Errorf("CompareAndSwapUint64(8, 1, 1<<40) of 1 = %v, %v, want true", ok, err)
	}
	if v, err := s.LoadUint64(8); v != 1<<40 || err != nil {
		t.Errorf("LoadUint64 = %d, %v, want 1<<40", v, err)
	}
	if v, _ := s.ReadUint64(8); v != 1<<40 {
		t.Errorf("ReadUint64 after atomics = %d, want 1<<40", v)
	}
}

// TestAtomicsTwoMappings counts from goroutines through two mappings of one
// segment, with AddUint64 and with a CompareAndSwapUint32 loop. Run it with
// -race; the counts show that no increment is lost.
func TestAtomicsTwoMappings(t *testing.T) {
	const goroutines, each = 8, 1000
	a := create(t, 4096)
	b := open(t, a.Name())
	var wg sync.WaitGroup
	for g := range goroutines {
		s := a
		if g%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for range each {
				if _, err := s.AddUint64(0, 1); err != nil {
					t.Errorf("AddUint64: %v", err)
					return
				}
				for {
					old, err := s.LoadUint32(8)
					if err != nil {
						t.Errorf("LoadUint32: %v", err)
						return
					}
					if ok, err := s.CompareAndSwapUint32(8, old, old+1); err != nil {
						t.Errorf("CompareAndSwapUint32: %v", err)
						return
					} else if ok {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	if v, _ := b.LoadUint64(0); v != goroutines*each {
		t.Errorf("AddUint64 count = %d, want %d", v, goroutines*each)
	}
	if v, _ := a.LoadUint32(8); v != goroutines*each {
		t.Errorf("CompareAndSwapUint32 count = %d, want %d", v, goroutines*each)
	}
}
