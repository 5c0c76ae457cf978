//go:build linux && !cgo

package platform

import "golang.org/x/sys/unix"

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
