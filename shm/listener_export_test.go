package shm

import "sync/atomic"

// ListenerReadySlotsForTest returns the number of l's slots in state ready.
func ListenerReadySlotsForTest(l *Listener) int {
	n := 0
	for i := range l.slots {
		if atomic.LoadUint32(&l.slots[i].state) == slotReady {
			n++
		}
	}
	return n
}

// ListenerReapForTest runs the reaper's test over every held slot of l, as
// an accept scan does but without accepting and without the cached
// verdicts, and returns how many slots it freed.
func ListenerReapForTest(l *Listener) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for i := range l.slots {
		if tok := atomic.LoadUint64(&l.slots[i].client); tok != 0 && l.reapIfDead(i, tok) {
			n++
		}
	}
	return n
}

// PollSupportedForTest reports whether parked ends share the poller's
// threads here (futex_waitv: Linux 5.16 or later, and not under qemu-user
// 7.2, which does not emulate it).
func PollSupportedForTest() bool { return pollSupported() }

// DirectParkedForTest returns how many connection ends of this process sleep
// on their own futex now (WithDirectPark).
func DirectParkedForTest() int { return int(directParked.Load()) }
