//go:build cgo

package cfence

/*
#cgo CFLAGS: -O2 -Wall
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

// cfence_copy is the read side of a C11 seqlock (Boehm, "Can seqlocks get
// along with programming language memory models?", 2012): copy the value,
// then an acquire fence keeps the copy's loads before the second load of the
// sequence number, which the caller compares with the first.
static uint64_t cfence_copy(void *dst, const void *src, size_t n, uint64_t *seq) {
	memcpy(dst, src, n);
	atomic_thread_fence(memory_order_acquire);
	// SYNC(mb_seq): relaxed load after the acquire fence; pairs with the writer's odd mark.
	return atomic_load_explicit((_Atomic uint64_t *)seq, memory_order_relaxed);
}
*/
import "C"

import "unsafe"

// Available reports whether Copy works in this build (it needs cgo).
const Available = true

// Copy copies src into dst (len(dst) == len(src)), issues an acquire fence
// and returns the value of *seq loaded after the fence.
func Copy(dst, src []byte, seq *uint64) uint64 {
	if len(dst) == 0 {
		return uint64(C.cfence_copy(nil, nil, 0, (*C.uint64_t)(unsafe.Pointer(seq))))
	}
	return uint64(C.cfence_copy(unsafe.Pointer(unsafe.SliceData(dst)), unsafe.Pointer(unsafe.SliceData(src)),
		C.size_t(len(dst)), (*C.uint64_t)(unsafe.Pointer(seq))))
}
