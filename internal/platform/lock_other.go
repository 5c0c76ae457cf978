//go:build !linux && !darwin && !windows

package platform

import "errors"

// Other systems have no segments (segment_other.go); nothing holds a role.

// RoleLocks reports whether roles are held by kernel locks on this platform.
const RoleLocks = false

// RoleLock is never made here: NewRoleLock returns nil.
type RoleLock struct{}

// NewRoleLock returns nil: there are no role locks here.
func NewRoleLock(RoleKey) (*RoleLock, error) { return nil, nil }

// Lock returns errors.ErrUnsupported: there are no role locks here.
func (*RoleLock) Lock() error { return errors.ErrUnsupported }

// Unlock returns errors.ErrUnsupported: there are no role locks here.
func (*RoleLock) Unlock() error { return errors.ErrUnsupported }

// Held returns errors.ErrUnsupported: there are no role locks here.
func (*RoleLock) Held() (bool, error) { return false, errors.ErrUnsupported }

// RoleHeld returns errors.ErrUnsupported: there are no role locks here,
// and the caller judges the owner token.
func RoleHeld(RoleKey) (bool, error) { return false, errors.ErrUnsupported }

// Close does nothing.
func (*RoleLock) Close() error { return nil }
