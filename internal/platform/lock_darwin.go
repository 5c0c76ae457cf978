package platform

import "errors"

// macOS: fcntl and flock locks are not supported on POSIX shared-memory
// descriptors (docs/platforms.md), so roles are judged by owner token (Alive),
// with the limits docs/platforms.md states.

// RoleLocks reports whether roles are held by kernel locks on this platform.
const RoleLocks = false

// LockRole returns errors.ErrUnsupported: there are no role locks here.
func LockRole(fd int, start int64) error { return errors.ErrUnsupported }

// UnlockRole returns errors.ErrUnsupported: there are no role locks here.
func UnlockRole(fd int, start int64) error { return errors.ErrUnsupported }

// RoleHeld returns errors.ErrUnsupported: there are no role locks here.
func RoleHeld(fd int, start int64) (bool, error) { return false, errors.ErrUnsupported }
