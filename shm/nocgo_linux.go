//go:build !cgo && linux

package shm

import (
	"golang.org/x/sys/unix"
)

// The pure-Go path for CGO_ENABLED=0 on Linux. glibc's shm_open is
// open("/dev/shm/"+name, flags|O_NOFOLLOW|O_CLOEXEC), so opening the same
// file here is byte-for-byte the object the cgo path (and any C program)
// sees.

const implementation = "purego"

const shmDir = "/dev/shm/"

func shmOpen(name string, flag int, mode uint32) (int, error) {
	for {
		fd, err := unix.Open(shmDir+name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
		if err == unix.EINTR {
			continue
		}
		return fd, err
	}
}

func shmUnlink(name string) error { return unix.Unlink(shmDir + name) }

func fdTruncate(fd int, size int64) error { return unix.Ftruncate(fd, size) }

func fdChmod(fd int, mode uint32) error { return unix.Fchmod(fd, mode) }

func fdClose(fd int) error { return unix.Close(fd) }

func fdSize(fd int) (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, err
	}
	return st.Size, nil
}

func fdReserve(fd int, size int64) error {
	for {
		err := unix.Fallocate(fd, 0, 0, size)
		if err == unix.EINTR {
			continue
		}
		return err
	}
}

func mapFD(fd int, size int64, writable bool) ([]byte, error) {
	prot := unix.PROT_READ
	if writable {
		prot |= unix.PROT_WRITE
	}
	return unix.Mmap(fd, 0, int(size), prot, unix.MAP_SHARED)
}

func unmapMem(b []byte) error { return unix.Munmap(b) }
