package platform

import "golang.org/x/sys/unix"

// crossBuildHint returns err as it is: on Linux the cgo and pure-Go paths
// open the same object (/dev/shm/NAME), so there is no mismatch to explain.
func crossBuildHint(_ string, _ int, err error) error { return err }

// reserve makes tmpfs commit the object's memory now, so that a full
// /dev/shm fails here with ENOSPC instead of raising SIGBUS on the first
// touch of a page.
func reserve(fd int, size int64) error {
	for {
		err := unix.Fallocate(fd, 0, 0, size)
		if err == unix.EINTR {
			continue
		}
		return err
	}
}

// Dir returns the directory whose entries are this OS's named objects, for
// tools that list them: /dev/shm, for both the cgo and the pure-Go path.
func Dir() string { return "/dev/shm" }
