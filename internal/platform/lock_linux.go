package platform

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// RoleLocks reports whether roles are held by kernel locks on this
// platform: on Linux, yes (F_OFD_* exists since Linux 3.15).
const RoleLocks = true

func roleRange(typ int16, start int64) unix.Flock_t {
	// l_pid must be 0 for the F_OFD_* commands.
	return unix.Flock_t{Type: typ, Whence: 0 /* SEEK_SET */, Start: start, Len: LockLen}
}

func fcntlLock(fd int, cmd int, fl *unix.Flock_t) error {
	for {
		err := unix.FcntlFlock(uintptr(fd), cmd, fl)
		if err != unix.EINTR {
			return err
		}
	}
}

// LockRole takes the role lock at start through fd without waiting
// (docs/layout.md, claim.2). It fails with ErrLocked if another open file
// description holds it, and with errors.ErrUnsupported on a kernel without
// open-file-description locks. fd must be open for writing.
func LockRole(fd int, start int64) error {
	fl := roleRange(unix.F_WRLCK, start)
	err := fcntlLock(fd, unix.F_OFD_SETLK, &fl)
	switch {
	case err == nil:
		return nil
	case err == unix.EAGAIN || err == unix.EACCES:
		return ErrLocked
	case err == unix.EINVAL:
		return fmt.Errorf("F_OFD_SETLK (Linux 3.15 or later): %w (%w)", errors.ErrUnsupported, err)
	}
	return fmt.Errorf("F_OFD_SETLK at %d: %w", start, err)
}

// UnlockRole releases the role lock at start held through fd (close.4).
// Closing the last descriptor of the description releases it too.
func UnlockRole(fd int, start int64) error {
	fl := roleRange(unix.F_UNLCK, start)
	if err := fcntlLock(fd, unix.F_OFD_SETLK, &fl); err != nil {
		return fmt.Errorf("F_OFD_SETLK unlock at %d: %w", start, err)
	}
	return nil
}

// RoleHeld reports whether an open file description other than fd's holds
// the role lock at start (live.2). It makes one system call; callers ask at
// most every 50 ms, never per message.
func RoleHeld(fd int, start int64) (bool, error) {
	fl := roleRange(unix.F_WRLCK, start)
	if err := fcntlLock(fd, unix.F_OFD_GETLK, &fl); err != nil {
		return true, fmt.Errorf("F_OFD_GETLK at %d: %w", start, err)
	}
	return fl.Type != unix.F_UNLCK, nil
}
