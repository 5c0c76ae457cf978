package inspect

import (
	"errors"

	"github.com/shmchan/shmchan/internal/platform"
)

// holder says how a role's liveness is read: from its role lock (layout
// version 2: docs/layout.md, "Role locks"), or from its owner token.
type holder struct {
	locks bool             // the object's layout holds roles by locks
	key   platform.RoleKey // the role's lock: the object's descriptor (-1 if none) and range, its name and role
}

// tokenOnly is the holder of a role judged by its token alone: a creator,
// or a listener's owner (held by a lock on Linux, but these tools judge it
// by token everywhere).
var tokenOnly = holder{key: platform.RoleKey{FD: -1}}

// role is h for the role called name whose lock range starts at off.
func (h holder) role(name string, off int64) holder {
	h.key.Role, h.key.Start = name, off
	return h
}

// Held is the one place ls, inspect and gc decide whether a role is held by
// a live process. With role locks it asks the kernel (platform.RoleHeld: an
// F_OFD_GETLK on Linux, a probe of the role's named mutex on Windows): the
// lock is held exactly while its holder lives, in whatever PID namespace,
// and the token is only a diagnostic. A failed test answers "held", as
// package shm's own liveness check does: a false "dead" could hand a live
// role away (or let gc remove it). Without locks (layout version 1, macOS,
// or an object mapped without a descriptor: RoleHeld says
// errors.ErrUnsupported) the token decides: its process exists and has the
// token's start time.
func (h holder) Held(tok uint64) bool {
	if h.locks {
		held, err := platform.RoleHeld(h.key)
		if !errors.Is(err, errors.ErrUnsupported) {
			return held || err != nil
		}
	}
	return tok != 0 && platform.Alive(platform.Token(tok))
}
