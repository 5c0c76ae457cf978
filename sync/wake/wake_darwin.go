//go:build cgo

package wake

/*
#cgo CFLAGS: -I${SRCDIR}/c -O2 -Wall
#include "shim_darwin.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// osWord is stateless on macOS: os_sync_wait_on_address with its SHARED
// flag keys the wait by the physical page and offset of the shared word,
// which both processes map, like a Linux futex without FUTEX_PRIVATE_FLAG.
// It exists from macOS 14.4; on older systems the functions are missing at
// run time and osWord polls the word instead (pollWait), which sees a
// wakeup within about 1 ms.
type osWord struct{}

// maxWaitNS bounds one sleep: the kernel refuses absurd timeouts with EINVAL,
// and the caller re-checks its condition and deadline after every return.
const maxWaitNS = uint64(time.Hour)

var osSync = sync.OnceValue(func() (f struct{ wait, wake unsafe.Pointer }) {
	f.wait, f.wake = C.shim_lookup_wait(), C.shim_lookup_wake()
	if f.wait == nil || f.wake == nil {
		f.wait, f.wake = nil, nil
	}
	return f
})

func (osWord) open(*uint32, string) error { return nil }

func (osWord) close() error { return nil }

func (osWord) wait(addr *uint32, val uint32, timeout time.Duration) error {
	f := osSync()
	if f.wait == nil {
		return pollWait(addr, val, timeout)
	}
	ns := min(uint64(timeout), maxWaitNS)
	r, err := C.shim_wait(f.wait, (*C.uint32_t)(unsafe.Pointer(addr)), C.uint32_t(val), C.uint64_t(ns))
	if r >= 0 {
		return nil
	}
	switch err {
	case syscall.ETIMEDOUT, syscall.EINTR, syscall.EAGAIN:
		return nil // timeout or signal: the caller re-checks
	}
	return fmt.Errorf("wake: os_sync_wait_on_address: %w", err)
}

func (osWord) wake(addr *uint32) error {
	f := osSync()
	if f.wake == nil {
		return nil // the waiter polls
	}
	r, err := C.shim_wake(f.wake, (*C.uint32_t)(unsafe.Pointer(addr)))
	if r >= 0 || err == syscall.ENOENT { // ENOENT: nobody was waiting
		return nil
	}
	return fmt.Errorf("wake: os_sync_wake_by_address_all: %w", err)
}
