package shm

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmchan/shmchan/internal/platform"
)

// Liveness for listeners, connections and the poller, in one place.
//
// Every liveness decision of Listen, Dial, Conn and the poller goes through
// the three functions in this file, so that issue 11 (kernel-held locks
// instead of PID probing) replaces one file. Probes are cached per token for
// liveCacheFor: a thousand idle connections from one client process cost one
// probe per tick, not a thousand (proc.Alive reads /proc/PID/stat).

// liveCacheFor is how long one probe's answer is reused.
const liveCacheFor = 100 * time.Millisecond

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
// (false). Answers are cached for liveCacheFor; a death is final.
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

// endGone reports whether the holder of a role is gone: a token is set, its
// process is dead, and it did not close (closed may be nil where there is no
// closed flag). No holder yet is not gone: one may come.
func endGone(owner *uint64, closed *uint32) bool {
	// SYNC(tx_owner)/SYNC(rx_owner)/SYNC(lsn_owner)/SYNC(slot_client): acquire;
	// pairs with the claim CAS of the holder.
	tok := atomic.LoadUint64(owner)
	if tok == 0 || tokenAlive(tok) {
		return false
	}
	// SYNC(tx_closed)/SYNC(rx_closed)/SYNC(lsn_closed): a holder that closed cleanly is not gone.
	return closed == nil || atomic.LoadUint32(closed) == 0
}

// release gives a token-claimed word (the listener's owner) back if this
// process still holds it.
func release(owner *uint64) {
	// SYNC(lsn_owner): acq_rel CAS; pairs with the load in claimListener.
	atomic.CompareAndSwapUint64(owner, selfToken(), 0)
}
