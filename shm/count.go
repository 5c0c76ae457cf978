//go:build !race && (amd64 || arm64) && !shmchan_nocount

package shm

// count adds n to a counter of the caller's own counter line
// (docs/layout.md, "Counters"). Only one goroutine of one process writes a
// line (the holder of its end, under the end's no-concurrent-calls rule), so
// a plain read-modify-write suffices: no lock prefix, no fence, and the line
// stays in the writer's cache. An aligned 64-bit store is single-copy atomic
// on amd64 and arm64, so a reader's atomic load (Stats, shmchan stat) sees
// an old or a new count, never a torn one: the relaxed store that C's
// memory_order_relaxed would give. Race builds, and 32-bit platforms, use
// count_atomic.go instead.
func count(p *uint64, n uint64) { *p += n }
