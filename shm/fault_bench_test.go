package shm

import (
	"runtime/debug"
	"sync/atomic"
	"testing"
)

// BenchmarkFaultGuard isolates what the fault guard adds to one API call:
// a call that makes one atomic load, without and with the guard's
// SetPanicOnFault and deferred recover. BenchmarkChannel/wait=none measures
// it inside a whole TrySend and TryRecv.
func BenchmarkFaultGuard(b *testing.B) {
	var word uint64
	b.Run("guard=off", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := loadPlain(&word); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("guard=on", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := loadGuarded(&word); err != nil {
				b.Fatal(err)
			}
		}
	})
}

//go:noinline
func loadPlain(p *uint64) (uint64, error) {
	return atomic.LoadUint64(p), nil // SYNC(none): benchmark-local word, no partner
}

//go:noinline
func loadGuarded(p *uint64) (_ uint64, err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	return atomic.LoadUint64(p), nil // SYNC(none): benchmark-local word, no partner
}
