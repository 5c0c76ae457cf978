package platform

import "errors"

// Role locks (docs/layout.md, "Role locks"): a role of a channel or mailbox
// (sender, receiver, writer) is held by a lock that the kernel keeps and
// releases when its holder dies, whatever the holder's PID namespace, user or
// /proc mount. On Linux it is an open-file-description lock (F_OFD_SETLK,
// F_WRLCK) on LockLen bytes of the object at the role's offset, taken through
// the descriptor the holder keeps open. Where RoleLocks is false the caller
// judges the role's owner token instead (Alive), as layout version 1 did.
//
// The lock belongs to the open file description, not to a process or a
// thread: two descriptors from two opens of the object exclude each other
// even in one process, a dup'd or inherited descriptor shares the lock, and
// a description never conflicts with its own lock (so RoleHeld reports a
// lock held through fd itself as free: the caller knows its own roles).

// LockLen is the length of every role's lock range: the 8 bytes of the
// role's owner field.
const LockLen = 8

// ErrLocked reports that another open file description holds a role lock.
var ErrLocked = errors.New("platform: role lock held by another open file description")
