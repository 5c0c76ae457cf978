package shm_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/shmchan/shmchan/shm"
)

// position returns the stream's cursor.
func position(t *testing.T, st *shm.Stream) int64 {
	t.Helper()
	pos, err := st.Seek(0, io.SeekCurrent)
	if err != nil {
		t.Fatalf("Seek(0, io.SeekCurrent): %v", err)
	}
	return pos
}

func seek(t *testing.T, st *shm.Stream, offset int64, whence int) {
	t.Helper()
	if _, err := st.Seek(offset, whence); err != nil {
		t.Fatalf("Seek(%d, %d): %v", offset, whence, err)
	}
}

func TestStreamReadWrite(t *testing.T) {
	const size = 16
	s := create(t, size)
	st := s.NewStream()

	if n, err := st.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("Write(hello) = %d, %v", n, err)
	}
	if err := st.WriteByte('!'); err != nil {
		t.Fatalf("WriteByte: %v", err)
	}
	if pos := position(t, st); pos != 6 {
		t.Errorf("position after 6 bytes = %d", pos)
	}
	seek(t, st, 0, io.SeekStart)
	buf := make([]byte, 5)
	if n, err := st.Read(buf); n != 5 || err != nil || string(buf) != "hello" {
		t.Errorf("Read = %d, %q, %v, want 5, hello", n, buf[:n], err)
	}
	if c, err := st.ReadByte(); c != '!' || err != nil {
		t.Errorf("ReadByte = %q, %v, want '!'", c, err)
	}

	// A read that reaches the end returns what is left, then io.EOF.
	seek(t, st, -3, io.SeekEnd)
	buf = make([]byte, 8)
	if n, err := st.Read(buf); n != 3 || err != nil {
		t.Errorf("Read of 8 with 3 left = %d, %v, want 3, nil", n, err)
	}
	if n, err := st.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("Read at the end = %d, %v, want 0, io.EOF", n, err)
	}
	if _, err := st.ReadByte(); err != io.EOF {
		t.Errorf("ReadByte at the end = %v, want io.EOF", err)
	}

	// A write past the end writes what fits, then fails.
	seek(t, st, -3, io.SeekEnd)
	n, err := st.Write([]byte("abcde"))
	if n != 3 || !errors.Is(err, shm.ErrOutOfRange) || !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("Write of 5 with 3 left = %d, %v, want 3, ErrOutOfRange", n, err)
	}
	if pos := position(t, st); pos != size {
		t.Errorf("position after a short write = %d, want %d", pos, size)
	}
	if got := string(s.Bytes()[size-3:]); got != "abc" {
		t.Errorf("short write left %q at the end, want %q", got, "abc")
	}
	if n, err := st.Write([]byte("x")); n != 0 || !errors.Is(err, shm.ErrOutOfRange) {
		t.Errorf("Write at the end = %d, %v, want 0, ErrOutOfRange", n, err)
	}
	if err := st.WriteByte('x'); !errors.Is(err, shm.ErrOutOfRange) {
		t.Errorf("WriteByte at the end = %v, want ErrOutOfRange", err)
	}

	// Past the end: reads give io.EOF, writes fail, and the cursor stays.
	seek(t, st, 10, io.SeekEnd)
	if n, err := st.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("Read past the end = %d, %v, want 0, io.EOF", n, err)
	}
	if n, err := st.Write([]byte("x")); n != 0 || !errors.Is(err, shm.ErrOutOfRange) {
		t.Errorf("Write past the end = %d, %v, want 0, ErrOutOfRange", n, err)
	}
	if pos := position(t, st); pos != size+10 {
		t.Errorf("position after failed calls past the end = %d, want %d", pos, size+10)
	}
}

func TestStreamSeek(t *testing.T) {
	const size, start = 16, 4
	s := create(t, size)
	tests := []struct {
		offset  int64
		whence  int
		want    int64  // the new position, if err is ""
		wantErr string // errorKind of the error
	}{
		{0, io.SeekStart, 0, ""},
		{10, io.SeekStart, 10, ""},
		{size, io.SeekStart, size, ""},
		{size + 100, io.SeekStart, size + 100, ""}, // past the end is allowed
		{shm.MaxSize, io.SeekStart, shm.MaxSize, ""},
		{-1, io.SeekStart, 0, "ErrOutOfRange"},
		{math.MinInt64, io.SeekStart, 0, "ErrOutOfRange"},
		{math.MaxInt64, io.SeekStart, 0, "ErrOutOfRange"},
		{3, io.SeekCurrent, start + 3, ""},
		{-start, io.SeekCurrent, 0, ""},
		{-start - 1, io.SeekCurrent, 0, "ErrOutOfRange"},
		{math.MaxInt64, io.SeekCurrent, 0, "ErrOutOfRange"},
		{0, io.SeekEnd, size, ""},
		{-size, io.SeekEnd, 0, ""},
		{-size - 1, io.SeekEnd, 0, "ErrOutOfRange"},
		{100, io.SeekEnd, size + 100, ""},
		{shm.MaxSize, io.SeekEnd, 0, "ErrOutOfRange"},
		{math.MinInt64, io.SeekEnd, 0, "ErrOutOfRange"},
		{0, 3, 0, "ErrUnsupported"},
		{0, -1, 0, "ErrUnsupported"},
	}
	for _, tt := range tests {
		st := s.NewStream()
		seek(t, st, start, io.SeekStart)
		got, err := st.Seek(tt.offset, tt.whence)
		if tt.wantErr != "" {
			if kind := errorKind(err); kind != tt.wantErr {
				t.Errorf("Seek(%d, %d) from %d = %d, %v, want %s", tt.offset, tt.whence, start, got, err, tt.wantErr)
			}
			if pos := position(t, st); pos != start {
				t.Errorf("failed Seek(%d, %d) moved the cursor from %d to %d", tt.offset, tt.whence, start, pos)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Seek(%d, %d) from %d = %d, %v, want %d", tt.offset, tt.whence, start, got, err, tt.want)
		}
	}
}

// TestStreamIOTest runs the standard library's reader checks (Read, ReadAt,
// Seek and their mixtures) over a Stream and over a SectionReader on the
// segment.
func TestStreamIOTest(t *testing.T) {
	const size = 1000
	s := create(t, size)
	want := pattern(size, 7)
	if _, err := s.WriteAt(want, 0); err != nil {
		t.Fatalf("WriteAt: %v", err)
	}
	if err := iotest.TestReader(s.NewStream(), want); err != nil {
		t.Errorf("iotest.TestReader(Stream): %v", err)
	}
	if err := iotest.TestReader(io.NewSectionReader(s, 0, size), want); err != nil {
		t.Errorf("iotest.TestReader(SectionReader): %v", err)
	}
	if err := iotest.TestReader(iotest.OneByteReader(s.NewStream()), want); err != nil {
		t.Errorf("iotest.TestReader(OneByteReader(Stream)): %v", err)
	}
}

func TestStreamCopy(t *testing.T) {
	const size = 4096
	s := create(t, size)
	want := pattern(size, 9)
	n, err := io.Copy(s.NewStream(), bytes.NewReader(want))
	if n != size || err != nil {
		t.Fatalf("io.Copy into the stream = %d, %v", n, err)
	}
	var got bytes.Buffer
	if n, err := io.Copy(&got, s.NewStream()); n != size || err != nil {
		t.Fatalf("io.Copy out of the stream = %d, %v", n, err)
	}
	if diff := diffBytes(want, got.Bytes()); diff != "" {
		t.Errorf("copied out (-want +got):\n%s", diff)
	}
	// Copying more than fits stops at the end, with the reason.
	n, err = io.Copy(s.NewStream(), bytes.NewReader(make([]byte, size+1)))
	if n != size || !errors.Is(err, shm.ErrOutOfRange) {
		t.Errorf("io.Copy of %d bytes into %d = %d, %v, want %d, ErrOutOfRange", size+1, size, n, err, size)
	}
}

// TestStreamAtKeepsCursor checks that ReadAt and WriteAt leave the cursor
// alone.
func TestStreamAtKeepsCursor(t *testing.T) {
	s := create(t, 64)
	st := s.NewStream()
	seek(t, st, 5, io.SeekStart)
	if _, err := st.WriteAt([]byte("xyz"), 40); err != nil {
		t.Fatalf("WriteAt: %v", err)
	}
	buf := make([]byte, 3)
	if _, err := st.ReadAt(buf, 40); err != nil || string(buf) != "xyz" {
		t.Errorf("ReadAt = %q, %v", buf, err)
	}
	if pos := position(t, st); pos != 5 {
		t.Errorf("cursor after ReadAt and WriteAt = %d, want 5", pos)
	}
}

// TestStreamConcurrent writes one byte at a time from several goroutines
// through one Stream: the shared cursor gives each byte its own place. Run
// it with -race.
func TestStreamConcurrent(t *testing.T) {
	const writers, each = 10, 100
	s := create(t, writers*each)
	st := s.NewStream()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for range each {
				if err := st.WriteByte(byte('a' + w)); err != nil {
					t.Errorf("WriteByte: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if pos := position(t, st); pos != writers*each {
		t.Errorf("position = %d, want %d", pos, writers*each)
	}
	counts := map[byte]int{}
	for _, c := range s.Bytes() {
		counts[c]++
	}
	want := map[byte]int{}
	for w := range writers {
		want[byte('a'+w)] = each
	}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("byte counts (-want +got):\n%s", diff)
	}
	if err := st.WriteByte('z'); !errors.Is(err, shm.ErrOutOfRange) {
		t.Errorf("WriteByte on a full stream = %v, want ErrOutOfRange", err)
	}
}
