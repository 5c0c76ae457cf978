package inspect

import "github.com/shmchan/shmchan/internal/platform"

// OwnerAlive reports whether the process an owner token names is alive. It is
// the one place ls, inspect and gc decide liveness, so that layout v2 (issue
// 11: kernel-held OFD locks per role) changes it here alone: there, a role is
// held exactly while its lock is, whatever the token says.
func OwnerAlive(tok uint64) bool { return platform.Alive(platform.Token(tok)) }
