package shm

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// Stream is a cursor over a segment, the counterpart of .NET's
// CreateViewStream. It implements io.Reader, io.Writer, io.Seeker,
// io.ReaderAt, io.WriterAt, io.ByteReader and io.ByteWriter, bounded by the
// segment: a read at the end returns io.EOF, and a write past the end writes
// what fits and returns an error matching ErrOutOfRange. It never grows the
// mapping. A Stream is safe for concurrent use; the cursor is shared.
type Stream struct {
	seg *Segment
	mu  sync.Mutex
	pos int64
}

// NewStream returns a Stream positioned at offset 0.
func (s *Segment) NewStream() *Stream { return &Stream{seg: s} }

// Read reads up to len(p) bytes at the cursor and advances it.
func (st *Stream) Read(p []byte) (int, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pos >= st.seg.size {
		if err := st.seg.view("read", false, func([]byte) error { return nil }); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	n, err := st.seg.ReadAt(p, st.pos)
	st.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil // io.Reader: report EOF on the next call
	}
	return n, err
}

// Write writes p at the cursor and advances it by what was written.
func (st *Stream) Write(p []byte) (int, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	n, err := st.seg.WriteAt(p, st.pos)
	st.pos += int64(n)
	return n, err
}

// ReadByte reads one byte at the cursor.
func (st *Stream) ReadByte() (byte, error) {
	var b [1]byte
	_, err := st.Read(b[:])
	return b[0], err
}

// WriteByte writes one byte at the cursor.
func (st *Stream) WriteByte(c byte) error {
	_, err := st.Write([]byte{c})
	return err
}

// ReadAt reads at off without moving the cursor.
func (st *Stream) ReadAt(p []byte, off int64) (int, error) { return st.seg.ReadAt(p, off) }

// WriteAt writes at off without moving the cursor.
func (st *Stream) WriteAt(p []byte, off int64) (int, error) { return st.seg.WriteAt(p, off) }

// Seek sets the cursor, as io.Seeker. Seeking past the end is allowed (a
// later read returns io.EOF and a write fails); a negative position is not.
// After Close it fails with ErrClosed, as the other calls do.
func (st *Stream) Seek(offset int64, whence int) (int64, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.seg.view("seek", false, func([]byte) error { return nil }); err != nil {
		return 0, err
	}
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = st.pos
	case io.SeekEnd:
		base = st.seg.size
	default:
		return st.pos, wrap("seek", st.seg.name, fmt.Errorf("whence %d: %w", whence, errors.ErrUnsupported))
	}
	if offset > 0 && base > MaxSize-offset {
		return st.pos, wrap("seek", st.seg.name, fmt.Errorf("offset %d: %w", offset, ErrOutOfRange))
	}
	pos := base + offset
	if pos < 0 {
		return st.pos, wrap("seek", st.seg.name, fmt.Errorf("negative position %d: %w", pos, ErrOutOfRange))
	}
	st.pos = pos
	return pos, nil
}

// Compile-time checks that Stream and Segment fill the io contracts.
var (
	_ io.ReadWriteSeeker = (*Stream)(nil)
	_ io.ReaderAt        = (*Stream)(nil)
	_ io.WriterAt        = (*Stream)(nil)
	_ io.ByteReader      = (*Stream)(nil)
	_ io.ByteWriter      = (*Stream)(nil)
	_ io.ReaderAt        = (*Segment)(nil)
	_ io.WriterAt        = (*Segment)(nil)
)
