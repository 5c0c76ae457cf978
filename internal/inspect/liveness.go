package inspect

import "github.com/shmchan/shmchan/internal/platform"

// holder says how a role's liveness is read: from its role lock (layout
// version 2 on Linux: docs/layout.md, "Role locks"), or from its owner token.
type holder struct {
	fd    int   // a descriptor of the object, -1 if none
	locks bool  // the object's layout holds roles by locks
	lock  int64 // the role's lock range (layout.Lock…)
}

// at is h for the role whose lock range starts at off.
func (h holder) at(off int64) holder { h.lock = off; return h }

// Held is the one place ls, inspect and gc decide whether a role is held by
// a live process. With role locks it asks the kernel (F_OFD_GETLK): the lock
// is held exactly while its holder lives, in whatever PID namespace, and the
// token is only a diagnostic. A failed test answers "held", as package shm's
// own liveness check does: a false "dead" could hand a live role away (or
// let gc remove it). Without locks (layout version 1, macOS, Windows) the
// token decides: its process exists and has the token's start time.
func (h holder) Held(tok uint64) bool {
	if h.locks && platform.RoleLocks && h.fd >= 0 {
		// Linux only: fd is -1 on Windows, whose role mutexes these tools
		// do not test yet (the token decides there).
		l, err := platform.NewRoleLock(platform.RoleKey{FD: h.fd, Start: h.lock})
		if err != nil || l == nil {
			return true
		}
		defer l.Close()
		held, err := l.Held()
		return held || err != nil
	}
	return tok != 0 && platform.Alive(platform.Token(tok))
}
