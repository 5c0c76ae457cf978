//go:build darwin && !cgo

package platform

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// The pure-Go path for CGO_ENABLED=0 on macOS. macOS's POSIX shared memory
// is reachable only through libc's shm_open, which x/sys/unix does not wrap
// and which is variadic (its mode travels on the stack on arm64), so this
// path keeps each segment as a regular file, fileDir()/name, mapped
// MAP_SHARED. Processes that map the same file share its pages through the
// unified buffer cache, exactly as with shm_open; the kernel also writes
// dirty pages back to the file from time to time, which costs disk traffic
// but nothing in correctness.
//
// It does not interoperate with the cgo path: a file-backed segment and a
// POSIX object of the same name are two different segments. An Open that
// finds nothing says so (here, and in the cgo path via crossBuildHint).
//
// The directory is created 0700 and checked before every use: a directory
// owned by another user, a symlink, or one that others may enter is refused
// (fs.ErrPermission), since /tmp is shared by every user. Other users
// therefore cannot open these segments whatever WithMode says.

const implementation = "purego-file"

func shmOpen(name string, flag int, mode uint32) (int, error) {
	dir := fileDir()
	if err := checkDir(dir, flag&unix.O_CREAT != 0); err != nil {
		if flag&unix.O_CREAT == 0 && errors.Is(err, fs.ErrNotExist) {
			return -1, notFound(name, err)
		}
		return -1, err
	}
	for {
		fd, err := unix.Open(dir+"/"+name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
		if err == unix.EINTR {
			continue
		}
		if err == unix.ENOENT && flag&unix.O_CREAT == 0 {
			return -1, notFound(name, err)
		}
		return fd, err
	}
}

// notFound explains a missing file-backed segment: perhaps it exists as a
// POSIX object created by a cgo build, which this build cannot see.
func notFound(name string, err error) error {
	return fmt.Errorf("no file-backed segment %s/%s (if a cgo build created %q, it is a POSIX "+
		"shared-memory object, which CGO_ENABLED=0 builds on macOS cannot open; build every "+
		"program that shares it the same way): %w", fileDir(), name, name, err)
}

// checkDir makes sure dir is a directory of ours that nobody else may enter,
// creating it if create is set.
func checkDir(dir string, create bool) error {
	if create {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("segment directory: %w", err)
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("segment directory %s: %w", dir, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("segment directory %s is not a directory: %w", dir, fs.ErrPermission)
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("segment directory %s belongs to uid %d, not to this user: %w", dir, st.Uid, fs.ErrPermission)
	case st.Mode&0o077 != 0:
		return fmt.Errorf("segment directory %s has mode %#o; it must be 0700: %w", dir, st.Mode&0o777, fs.ErrPermission)
	}
	return nil
}

func shmUnlink(name string) error {
	if err := checkDir(fileDir(), false); err != nil {
		return err
	}
	return unix.Unlink(fileDir() + "/" + name)
}

// reserve allocates the file's blocks now (F_PREALLOCATE), so that a full
// disk fails here with ENOSPC instead of raising SIGBUS on the first touch of
// a page. A file system that cannot preallocate is left sparse.
func reserve(fd int, size int64) error {
	fst := unix.Fstore_t{Flags: unix.F_ALLOCATEALL, Posmode: unix.F_PEOFPOSMODE, Length: size}
	err := unix.FcntlFstore(uintptr(fd), unix.F_PREALLOCATE, &fst)
	if err == unix.ENOSPC {
		return err
	}
	return nil
}

// Dir returns the directory whose entries are this build's segments, for
// tools that list them: the per-user file directory.
func Dir() string { return fileDir() }
