package shm

import (
	"errors"
	"fmt"
	"os"

	"github.com/shmchan/shmchan/internal/platform"
)

// CreateFile creates a regular file of size bytes at path and maps it
// read-write: the persistent twin of a named segment, like .NET's
// MemoryMappedFile.CreateFromFile. It fails with an error matching
// fs.ErrExist if the file exists. The options WithMode, ReadOnly and
// RemoveOnClose apply.
func CreateFile(path string, size int64, opts ...Option) (*Segment, error) {
	o := buildOptions(opts)
	if err := checkSize(size); err != nil {
		return nil, wrap("create", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, o.mode)
	if err != nil {
		return nil, wrap("create", path, err)
	}
	s, err := mapFile(f, path, size, &o)
	if err != nil {
		return nil, wrap("create", path, errors.Join(err, os.Remove(path)))
	}
	return s, nil
}

// OpenFile maps an existing regular file; Size reports the file's size. It
// fails with an error matching fs.ErrNotExist if there is no such file.
func OpenFile(path string, opts ...Option) (*Segment, error) {
	o := buildOptions(opts)
	flag := os.O_RDWR
	if o.readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, wrap("open", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, wrap("open", path, err)
	}
	if fi.Size() <= 0 || fi.Size() > MaxSize {
		f.Close()
		return nil, wrap("open", path, fmt.Errorf("file size %d: %w", fi.Size(), ErrInvalidSize))
	}
	s, err := mapFile(f, path, fi.Size(), &o)
	if err != nil {
		return nil, wrap("open", path, err)
	}
	return s, nil
}

// mapFile sizes (when creating) and maps f, which it takes over: the
// mapping closes it. A read-only CreateFile is sized too: a mapping past the
// end of the file faults.
func mapFile(f *os.File, path string, size int64, o *options) (*Segment, error) {
	fi, err := f.Stat()
	if err == nil && fi.Size() != size {
		err = f.Truncate(size)
	}
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	m, err := platform.MapFile(f, size, !o.readOnly)
	if err != nil {
		return nil, lift(err)
	}
	s := newSegment(path, m, o)
	s.remove = func() error { return os.Remove(path) }
	return s, nil
}
