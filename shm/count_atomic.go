//go:build (race || !(amd64 || arm64)) && !shmchan_nocount

package shm

import "sync/atomic"

// count adds n to a counter of the caller's own counter line, atomically:
// under the race detector, which would report count.go's plain store against
// a concurrent Stats, and on 32-bit platforms, where a plain 64-bit store may
// tear. SYNC(stats): pairs with the loads in loadStats.
func count(p *uint64, n uint64) { atomic.AddUint64(p, n) }
