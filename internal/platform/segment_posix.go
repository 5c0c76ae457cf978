//go:build linux || darwin

package platform

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The POSIX object: shm_open + ftruncate + reserve + mmap. How the name is
// opened is the name_* files' business (shm_open through the cgo shims, the
// file /dev/shm/NAME on Linux without cgo, a per-user directory on macOS
// without cgo); everything else goes through golang.org/x/sys/unix in every
// build, so memory is mapped one way.

// Create creates the object name of size bytes with permission bits mode
// (applied exactly, whatever the umask), reserves its memory (a full
// /dev/shm gives ErrNoSpace here rather than a SIGBUS on first touch) and
// maps it, writable or not. It fails with an error matching fs.ErrExist if
// the name exists. On failure nothing is left behind. global is for Windows
// and ignored here.
func Create(name string, size int64, mode uint32, _ bool, writable bool) (m *Mapping, err error) {
	fd, err := shmOpen(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, mode)
	if err != nil {
		return nil, err
	}
	// The descriptor lives as long as the mapping: keep it out of exec'd
	// children (macOS's shm_open does not take O_CLOEXEC; elsewhere it is set).
	unix.CloseOnExec(fd)
	// Undo in reverse order on failure: no half-created object is left behind.
	defer func() {
		if err != nil {
			if fd >= 0 {
				err = errors.Join(err, unix.Close(fd))
			}
			err = errors.Join(err, shmUnlink(name))
		}
	}()
	// shm_open applies the umask; the caller asked for exactly mode.
	if err := unix.Fchmod(fd, mode); err != nil {
		return nil, fmt.Errorf("chmod: %w", err)
	}
	if err := unix.Ftruncate(fd, size); err != nil {
		return nil, fmt.Errorf("truncate to %d: %w", size, err)
	}
	if err := reserve(fd, size); err != nil {
		if errors.Is(err, unix.ENOSPC) {
			return nil, fmt.Errorf("reserve %d bytes: %w (%w)%s", size, ErrNoSpace, err, spaceHint(fd, size))
		}
		return nil, fmt.Errorf("reserve %d bytes: %w", size, err)
	}
	mem, err := mapFD(fd, size, writable)
	if err != nil {
		return nil, err
	}
	// The descriptor stays open with the mapping: role locks are taken
	// through it (O_CLOEXEC, so an exec'd child does not hold them).
	return namedMapping(name, mem, fd), nil
}

// spaceHint says, for a reservation of size bytes that failed with ENOSPC,
// how much the file system holding fd has and what to do, so that the
// error names both numbers: ": 1048576 bytes asked, 983040 free of 1048576
// in /dev/shm; ...". It returns "" if the file system cannot say.
func spaceHint(fd int, size int64) string {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil || st.Blocks == 0 {
		return ""
	}
	bs := uint64(st.Bsize)
	where := Dir()
	if where == "" {
		where = "the file system holding it"
	}
	return fmt.Sprintf(": %d bytes asked, %d free of %d in %s; free space there or make it larger "+
		"(Docker: --shm-size; Kubernetes: an emptyDir with medium: Memory on /dev/shm), see `shmchan doctor`",
		size, st.Bavail*bs, st.Blocks*bs, where)
}

// Open maps the existing object name. It fails with an error matching
// fs.ErrNotExist if there is none, and with ErrUnsized, at once, if its
// creator has not sized it yet (the caller retries).
func Open(name string, _ bool, writable bool) (*Mapping, error) {
	flag := unix.O_RDONLY
	if writable {
		flag = unix.O_RDWR
	}
	fd, err := shmOpen(name, flag, 0)
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd) // as in Create
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, errors.Join(fmt.Errorf("fstat: %w", err), unix.Close(fd))
	}
	switch {
	case st.Size == 0:
		return nil, errors.Join(ErrUnsized, unix.Close(fd))
	case st.Size < 0 || st.Size > MaxSize:
		return nil, errors.Join(fmt.Errorf("size %d: %w", st.Size, ErrSize), unix.Close(fd))
	}
	mem, err := mapFD(fd, st.Size, writable)
	if err != nil {
		return nil, errors.Join(err, unix.Close(fd))
	}
	return namedMapping(name, mem, fd), nil
}

// Remove removes the object's name. Processes that have it mapped keep their
// mapping. It fails with an error matching fs.ErrNotExist if there is none.
func Remove(name string) error { return shmUnlink(name) }

// MapFile maps the open file f, of size bytes, shared, and takes f over: it
// is closed now (the mapping keeps the pages), or on failure.
func MapFile(f *os.File, size int64, writable bool) (*Mapping, error) {
	mem, err := mapFD(int(f.Fd()), size, writable)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = errors.Join(fmt.Errorf("close: %w", cerr), unix.Munmap(mem))
	}
	if err != nil {
		return nil, err
	}
	return &Mapping{Mem: mem, Unmap: func() error { return unix.Munmap(mem) }, FD: -1}, nil
}

// namedMapping wraps a named object's mapping and the descriptor it keeps.
func namedMapping(name string, mem []byte, fd int) *Mapping {
	return &Mapping{
		Mem: mem,
		// Closing the descriptor releases any role lock still held through it.
		Unmap:  func() error { return errors.Join(unix.Munmap(mem), unix.Close(fd)) },
		Remove: func() error { return shmUnlink(name) },
		FD:     fd,
	}
}

// mapFD maps size bytes of fd, MAP_SHARED.
func mapFD(fd int, size int64, writable bool) ([]byte, error) {
	prot := unix.PROT_READ
	if writable {
		prot |= unix.PROT_WRITE
	}
	mem, err := unix.Mmap(fd, 0, int(size), prot, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes: %w", size, err)
	}
	return mem, nil
}
