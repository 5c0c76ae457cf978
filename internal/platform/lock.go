package platform

import "errors"

// Role locks (docs/layout.md, "Role locks"): a role of a channel or mailbox
// (sender, receiver, writer) is held by a lock that the kernel keeps and
// releases when its holder dies, whatever the holder's PID namespace, user or
// /proc mount. A RoleLock is one handle's hold on, and view of, one role's
// lock; each OS file defines it (lock_linux.go, lock_windows.go), and where
// RoleLocks is false NewRoleLock returns nil and the caller judges the role's
// owner token instead (Alive), as layout version 1 did.
//
//   - Linux: an open-file-description lock (F_OFD_SETLK, F_WRLCK) on LockLen
//     bytes of the object at the role's offset, taken through the descriptor
//     the holder keeps open. The lock belongs to the open file description,
//     not to a process or a thread: two descriptors from two opens of the
//     object exclude each other even in one process, a dup'd or inherited
//     descriptor shares the lock, and a description never conflicts with its
//     own lock (so Held reports a lock held through the handle itself as
//     free: the caller knows its own roles).
//   - Windows: a named mutex per role, Local\shmchan.role:NAME.ROLE (or
//     Global\…), owned by a thread that the lock starts for the purpose and
//     that lives until Unlock: a mutex belongs to a thread, and Go moves
//     goroutines between threads. The kernel abandons the mutex when its
//     owning thread or process ends, so a holder's death frees it.

// RoleHeld (in each OS file) asks the same question as RoleLock.Held from
// a process that holds no handle of the role, the shmchan command's: on
// Linux through the caller's own descriptor of the object, on Windows by
// opening the role's mutex (never creating it). Where there are no role
// locks, or none to ask, it returns errors.ErrUnsupported and the caller
// judges the owner token (Alive). It never takes the role for longer than
// a probe (Windows: two system calls, which a claim waits out).

// LockLen is the length of every role's lock range on Linux: the 8 bytes of
// the role's owner field.
const LockLen = 8

// ErrLocked reports that another holder (another open file description on
// Linux, another thread on Windows) holds a role lock.
var ErrLocked = errors.New("platform: role lock held by another handle")

// RoleKey says which role lock NewRoleLock returns: Linux finds it by the
// object's descriptor and the role's range, Windows by a name derived from
// the segment's name, its namespace and the role.
type RoleKey struct {
	FD      int    // the object's descriptor (Mapping.FD), kept open by the caller; -1 if none
	Start   int64  // the role's range: the offset of its owner field (layout.Lock…)
	Segment string // the segment's name
	Global  bool   // the segment lives in the Global\ namespace (Windows)
	Role    string // "sender", "receiver" or "writer"
}
