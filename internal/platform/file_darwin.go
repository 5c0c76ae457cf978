package platform

import "golang.org/x/sys/unix"

// reserveFile preallocates with F_PREALLOCATE (macOS has no posix_fallocate).
func reserveFile(fd int, size int64) error {
	fst := unix.Fstore_t{Flags: unix.F_ALLOCATEALL, Posmode: unix.F_PEOFPOSMODE, Length: size}
	return unix.FcntlFstore(uintptr(fd), unix.F_PREALLOCATE, &fst)
}
