package shm

import (
	"errors"
	"fmt"
	"os"

	"github.com/edsrzf/mmap-go"
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

// mapFile sizes (when creating) and maps f, then closes it. A read-only
// CreateFile is sized too: a mapping past the end of the file faults.
func mapFile(f *os.File, path string, size int64, o *options) (s *Segment, err error) {
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if fi.Size() != size {
		if err := f.Truncate(size); err != nil {
			return nil, err
		}
	}
	prot := mmap.RDWR
	if o.readOnly {
		prot = mmap.RDONLY
	}
	m, err := mmap.MapRegion(f, int(size), prot, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes: %w", size, err)
	}
	return &Segment{
		name:          path,
		size:          size,
		mem:           m,
		readOnly:      o.readOnly,
		removeOnClose: o.removeOnClose,
		// mmap-go on Windows flushes through the file handle in Unmap: keep it open until then.
		unmap:  func() error { return errors.Join(m.Unmap(), f.Close()) },
		remove: func() error { return os.Remove(path) },
	}, nil
}
