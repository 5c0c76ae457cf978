//go:build unix && (cgo || linux || darwin)

package shm

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"golang.org/x/sys/unix"
)

// The POSIX segment: shm_open + ftruncate + reserve + mmap, over the
// primitives of cgo_unix.go (shm_open through C), nocgo_linux.go (/dev/shm
// through x/sys/unix) or nocgo_darwin.go (a regular file in a per-user
// directory, which does not interoperate with shm_open).

var (
	errExist    = fs.ErrExist
	errNotExist = fs.ErrNotExist
)

// Implementation names the code path this build uses to reach shared memory,
// such as "linux/cgo" or "linux/purego". Tests log it so that the path under
// test is never mistaken.
func Implementation() string { return osName + "/" + implementation }

func createSegment(name string, size int64, o *options) (s *Segment, err error) {
	fd, err := shmOpen(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, uint32(o.mode))
	if err != nil {
		return nil, err
	}
	// Undo in reverse order on failure: no half-created object is left behind.
	defer func() {
		if err != nil {
			if fd >= 0 {
				err = errors.Join(err, fdClose(fd))
			}
			err = errors.Join(err, shmUnlink(name))
		}
	}()
	// shm_open applies the umask; the caller asked for exactly o.mode.
	if err := fdChmod(fd, uint32(o.mode)); err != nil {
		return nil, fmt.Errorf("chmod: %w", err)
	}
	if err := fdTruncate(fd, size); err != nil {
		return nil, fmt.Errorf("truncate to %d: %w", size, err)
	}
	if err := fdReserve(fd, size); err != nil {
		if errors.Is(err, unix.ENOSPC) {
			return nil, fmt.Errorf("reserve %d bytes: %w (%w)", size, ErrNoSpace, err)
		}
		return nil, fmt.Errorf("reserve %d bytes: %w", size, err)
	}
	mem, err := mapFD(fd, size, !o.readOnly)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes: %w", size, err)
	}
	closeErr := fdClose(fd)
	fd = -1 // closed even if close failed: never close it twice
	if closeErr != nil {
		return nil, errors.Join(fmt.Errorf("close: %w", closeErr), unmapMem(mem))
	}
	return newPosixSegment(name, size, mem, o), nil
}

func openSegment(name string, o *options) (*Segment, error) {
	flag := unix.O_RDWR
	if o.readOnly {
		flag = unix.O_RDONLY
	}
	fd, err := shmOpen(name, flag, 0)
	if err != nil {
		return nil, err
	}
	defer fdClose(fd)
	// A creator sizes the object right after creating it; wait for that.
	deadline := time.Now().Add(o.openTimeout)
	var size int64
	for delay := 50 * time.Microsecond; ; delay = min(2*delay, 10*time.Millisecond) {
		if size, err = fdSize(fd); err != nil {
			return nil, fmt.Errorf("fstat: %w", err)
		}
		if size > 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("size still 0 after %v: %w", o.openTimeout, ErrNotReady)
		}
		time.Sleep(delay)
	}
	if size > MaxSize {
		return nil, fmt.Errorf("size %d: %w", size, ErrInvalidSize)
	}
	mem, err := mapFD(fd, size, !o.readOnly)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes: %w", size, err)
	}
	return newPosixSegment(name, size, mem, o), nil
}

func newPosixSegment(name string, size int64, mem []byte, o *options) *Segment {
	return &Segment{
		name:          name,
		size:          size,
		mem:           mem,
		readOnly:      o.readOnly,
		removeOnClose: o.removeOnClose,
		unmap:         func() error { return unmapMem(mem) },
		remove:        func() error { return shmUnlink(name) },
	}
}

func removeSegment(name string) error { return shmUnlink(name) }
