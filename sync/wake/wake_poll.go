//go:build !linux && !windows

package wake

import (
	"sync/atomic"
	"time"
)

// pollWait re-reads the word with a backoff from 50 µs up to 1 ms, until
// the word no longer holds val or the timeout passes. A wakeup is therefore
// seen within about 1 ms, without any system call on the waker's side. It
// serves platforms, and builds, without a cross-process wait primitive.
func pollWait(addr *uint32, val uint32, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for d := 50 * time.Microsecond; ; d = min(2*d, time.Millisecond) {
		// SYNC(wake-word): acquire; pairs with the waker's increment before Wake.
		if atomic.LoadUint32(addr) != val {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		time.Sleep(min(d, left))
	}
}
