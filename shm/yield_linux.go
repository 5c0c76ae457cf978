package shm

import "golang.org/x/sys/unix"

// osYield gives the processor to another thread (the peer process, when the
// machine has fewer free cores than spinning threads). runtime.Gosched would
// only yield to goroutines of this process.
func osYield() { unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }
