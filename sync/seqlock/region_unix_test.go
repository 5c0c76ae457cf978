//go:build unix

package seqlock

import (
	"testing"

	"golang.org/x/sys/unix"
)

// newRegion returns n bytes of zeroed memory outside the Go heap, as a
// mailbox's shared mapping is. The race detector watches only the Go heap, so
// the copies that a seqlock discards by design (see the package doc) are not
// reported here, just as they are not in a real mapping.
func newRegion(t testing.TB, n int) []byte {
	t.Helper()
	mem, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap %d bytes: %v", n, err)
	}
	t.Cleanup(func() {
		if err := unix.Munmap(mem); err != nil {
			t.Errorf("munmap: %v", err)
		}
	})
	return mem
}

// heapRegion reports whether newRegion returns Go heap memory.
const heapRegion = false
