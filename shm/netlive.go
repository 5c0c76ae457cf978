package shm

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmchan/shmchan/internal/platform"
)

// Liveness for listeners, connections and the poller, in one place.
//
// Where the platform has role locks (Linux, docs/layout.md "Role locks"),
// every liveness decision of Listen, Dial, Conn and the poller asks a lock,
// never a PID: the listener's owner is a role (role.go) held by a lock on
// its owner word, each slot's client holds a lock on its client word, and a
// connection's peer is the holder of a channel role. A process in another
// PID namespace is therefore judged alive as long as it holds its lock, and
// dead as soon as the kernel released it. Where there are no locks (macOS,
// Windows) the owner tokens decide, as in layout version 1, with the limits
// docs/platforms.md states.
//
// Answers are cached for liveCacheFor, so that a caller asking often (a Spin
// wait) makes at most one system call per cache period, and none is ever
// made on the message path.

// liveCacheFor is how long one liveness answer is reused.
const liveCacheFor = 100 * time.Millisecond

// peerRole is what a waitPoint asks about the other side: a role, whose
// gone answer (role.gone: live.1 to live.4) is cached for liveCacheFor. It
// is safe for concurrent use (the poller's sweeper and the waiting goroutine
// both ask).
type peerRole struct {
	r    *role
	at   atomic.Int64 // monotonic ns (since liveEpoch) of the cached answer; 0: none
	dead atomic.Bool  // the cached answer
}

// liveEpoch is the origin of peerRole.at: time.Since uses the monotonic clock.
var liveEpoch = time.Now()

func newPeerRole(r *role) *peerRole { return &peerRole{r: r} }

// gone reports whether the role's holder died without closing (ErrPeerGone).
func (p *peerRole) gone() bool {
	now := int64(time.Since(liveEpoch)) + 1
	if at := p.at.Load(); at != 0 && now-at < int64(liveCacheFor) {
		return p.dead.Load()
	}
	dead := p.r.gone() != nil
	p.dead.Store(dead)
	p.at.Store(now)
	return dead
}

var liveCache struct {
	mu sync.Mutex
	m  map[uint64]liveAnswer
}

type liveAnswer struct {
	alive bool
	at    time.Time
}

// self is computed at package initialisation, before any goroutine of this
// package runs: proc.Self caches its answer without synchronisation.
var selfTok = uint64(platform.Self())

// selfToken is this process's token, as claims store it.
func selfToken() uint64 { return selfTok }

// tokenAlive reports whether the process that tok names runs; 0 is nobody
// (false). Only where there are no role locks (platform.RoleLocks false) does
// a liveness decision use it: the reaper's test of a slot's client. Answers
// are cached per token for liveCacheFor (a thousand slots of one client
// process cost one probe); a death is final.
func tokenAlive(tok uint64) bool {
	if tok == 0 {
		return false
	}
	if tok == selfToken() {
		return true
	}
	now := time.Now()
	liveCache.mu.Lock()
	if a, ok := liveCache.m[tok]; ok && (!a.alive || now.Sub(a.at) < liveCacheFor) {
		liveCache.mu.Unlock()
		return a.alive
	}
	liveCache.mu.Unlock()
	alive := platform.Alive(platform.Token(tok))
	liveCache.mu.Lock()
	if liveCache.m == nil || len(liveCache.m) > 4096 {
		liveCache.m = make(map[uint64]liveAnswer) // bounded: forget everything now and then
	}
	liveCache.m[tok] = liveAnswer{alive, now}
	liveCache.mu.Unlock()
	return alive
}

// slotLock is the offset of slot i's lock range: its client word
// (docs/layout.md, "Listener", lock ranges).
func slotLock(i int) int64 { return lsnHeader + int64(i)*lsnSlotSize + slotLockClient }

// slotLocks reports whether slot claims are held by locks through fd.
func slotLocks(fd int) bool { return platform.RoleLocks && fd >= 0 }

// lockSlot takes slot i's lock through fd without waiting: STEP(dial.2)'s
// lock. It returns false if another open file description holds it.
func lockSlot(fd, i int) (bool, error) {
	err := slotRoleLock(fd, i).Lock()
	if errors.Is(err, platform.ErrLocked) {
		return false, nil
	}
	return err == nil, err
}

// unlockSlot releases slot i's lock held through fd; a failure leaves it to
// the descriptor's close.
func unlockSlot(fd, i int) { _ = slotRoleLock(fd, i).Unlock() }

// slotRoleLock is slot i's lock through fd (a byte range of the listener
// segment; slotLocks(fd) holds). Linux's RoleLock is a descriptor and an
// offset, so making one per call costs nothing worth keeping.
func slotRoleLock(fd, i int) *platform.RoleLock {
	l, _ := platform.NewRoleLock(platform.RoleKey{FD: fd, Start: slotLock(i), Role: "client"})
	return l
}
