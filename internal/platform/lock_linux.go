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

// RoleLock is a role's open-file-description lock: a range of an object,
// through one of its descriptors.
type RoleLock struct {
	fd    int
	start int64
}

// NewRoleLock returns the role lock k.Start through k.FD, or nil if the
// object has no descriptor (a file mapped by MapFile). It makes no system
// call.
func NewRoleLock(k RoleKey) (*RoleLock, error) {
	if k.FD < 0 {
		return nil, nil
	}
	return &RoleLock{fd: k.FD, start: k.Start}, nil
}

// Lock takes the lock without waiting (docs/layout.md, claim.2). It fails
// with ErrLocked if another open file description holds it, and with
// errors.ErrUnsupported on a kernel without open-file-description locks.
func (l *RoleLock) Lock() error { return lockRange(l.fd, l.start) }

// Unlock releases the lock (close.4). Closing the last descriptor of the
// description releases it too.
func (l *RoleLock) Unlock() error { return unlockRange(l.fd, l.start) }

// Held reports whether an open file description other than this one holds
// the lock (live.2). It makes one system call; callers ask at most every
// 50 ms, never per message.
func (l *RoleLock) Held() (bool, error) { return rangeHeld(l.fd, l.start) }

// RoleHeld reports whether an open file description holds the role lock
// k.Start of the object open as k.FD, other than k.FD's own (live.2, asked
// by a process that holds no role: shmchan ls, inspect and gc, through a
// descriptor of their own). It makes one system call (F_OFD_GETLK) and
// takes nothing. Without a descriptor (k.FD < 0: a file mapped by MapFile)
// it returns errors.ErrUnsupported: there is no lock to ask, and the
// caller judges the owner token. An error comes with held = true.
func RoleHeld(k RoleKey) (bool, error) {
	if k.FD < 0 {
		return false, fmt.Errorf("role lock without a descriptor: %w", errors.ErrUnsupported)
	}
	return rangeHeld(k.FD, k.Start)
}

// Close forgets the lock. The descriptor belongs to the mapping, whose
// Unmap closes it (which releases the lock if it is still held).
func (l *RoleLock) Close() error { return nil }

// lockRange takes the lock at start through fd without waiting: ErrLocked
// if another open file description holds it. fd must be open for writing.
func lockRange(fd int, start int64) error {
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

// unlockRange releases the lock at start held through fd.
func unlockRange(fd int, start int64) error {
	fl := roleRange(unix.F_UNLCK, start)
	if err := fcntlLock(fd, unix.F_OFD_SETLK, &fl); err != nil {
		return fmt.Errorf("F_OFD_SETLK unlock at %d: %w", start, err)
	}
	return nil
}

// rangeHeld reports whether an open file description other than fd's holds
// the lock at start.
func rangeHeld(fd int, start int64) (bool, error) {
	fl := roleRange(unix.F_WRLCK, start)
	if err := fcntlLock(fd, unix.F_OFD_GETLK, &fl); err != nil {
		return true, fmt.Errorf("F_OFD_GETLK at %d: %w", start, err)
	}
	return fl.Type != unix.F_UNLCK, nil
}
