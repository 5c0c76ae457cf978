//go:build !unix

package seqlock

import "testing"

// newRegion returns n bytes of zeroed memory. Off unix it is Go heap memory,
// which the race detector watches: concurrent tests call skipRacyHeap.
func newRegion(t testing.TB, n int) []byte {
	t.Helper()
	return make([]byte, n)
}

// heapRegion reports whether newRegion returns Go heap memory.
const heapRegion = true
