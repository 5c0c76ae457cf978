package platform

import "errors"

// Windows: roles are judged by owner token (Alive: OpenProcess and the
// creation time), as layout version 1 did. A named mutex would be released on
// the death of its owning thread, but it belongs to a thread, and Go moves a
// goroutine between threads (docs/platforms.md).

// RoleLocks reports whether roles are held by kernel locks on this platform.
const RoleLocks = false

// LockRole returns errors.ErrUnsupported: there are no role locks here.
func LockRole(fd int, start int64) error { return errors.ErrUnsupported }

// UnlockRole returns errors.ErrUnsupported: there are no role locks here.
func UnlockRole(fd int, start int64) error { return errors.ErrUnsupported }

// RoleHeld returns errors.ErrUnsupported: there are no role locks here.
func RoleHeld(fd int, start int64) (bool, error) { return false, errors.ErrUnsupported }
