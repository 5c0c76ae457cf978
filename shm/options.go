package shm

import (
	"io/fs"
	"time"
)

// Option configures Create, Open, OpenOrCreate and the channel and mailbox
// constructors. Options that do not apply to a call are ignored by it.
type Option func(*options)

type options struct {
	mode          fs.FileMode
	readOnly      bool
	removeOnClose bool
	openTimeout   time.Duration
	wait          WaitStrategy
	global        bool
	allowOwners   []int
	conn          connOptions // Listen and Dial (listener.go)
}

// DefaultOpenTimeout is how long Open waits for a creator that is still
// initialising a segment, channel or mailbox before returning ErrNotReady.
const DefaultOpenTimeout = 2 * time.Second

func buildOptions(opts []Option) options {
	o := options{mode: 0o600, openTimeout: DefaultOpenTimeout, wait: Adaptive}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithMode sets the permission bits of a newly created segment. The default
// is 0600: only the owner may open it. The mode is applied exactly, regardless
// of the process umask. On Windows the object's default security descriptor
// (the current user) applies.
func WithMode(mode fs.FileMode) Option {
	return func(o *options) { o.mode = mode & fs.ModePerm }
}

// AllowOwner lets Open, OpenOrCreate and the channel and mailbox openers
// accept an object owned by uid. Without it an opener refuses an object
// whose owner is not the caller's effective uid, with an error matching
// fs.ErrPermission that names the owner: another local user could have
// pre-created a well-known name in the world-writable /dev/shm (mode 0666)
// to become the peer. Give the option once per uid to allow; to share
// objects between users, create with WithMode(0o660) and a common group and
// open with AllowOwner(creatorUID). Root is checked like anyone else. On
// Windows the owner is not checked (docs/platforms.md).
func AllowOwner(uid int) Option {
	return func(o *options) { o.allowOwners = append(o.allowOwners, uid) }
}

// ReadOnly maps the segment without write permission. Every write through a
// view then fails with ErrReadOnly before touching memory. Channels and
// mailboxes (mailbox readers too: they write their read check and wait
// count) need write access and refuse ReadOnly with ErrReadOnly.
func ReadOnly() Option {
	return func(o *options) { o.readOnly = true }
}

// RemoveOnClose removes the segment's name when the Segment is closed, so
// that no entry is left behind (in /dev/shm on Linux). Processes that have it
// mapped keep their mapping.
func RemoveOnClose() Option {
	return func(o *options) { o.removeOnClose = true }
}

// WithOpenTimeout sets how long an opener waits for a creator that is still
// initialising the object. The default is DefaultOpenTimeout.
func WithOpenTimeout(d time.Duration) Option {
	return func(o *options) { o.openTimeout = d }
}

// Global selects the session-wide namespace on Windows ("Global\" instead of
// "Local\"), which needs SeCreateGlobalPrivilege to create. It has no effect
// elsewhere.
func Global() Option {
	return func(o *options) { o.global = true }
}
