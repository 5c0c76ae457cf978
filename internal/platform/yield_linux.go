package platform

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// Yield gives the processor to another goroutine of this process
// (runtime.Gosched: the peer may be in-process, and with GOMAXPROCS=1 it gets
// no other chance to run), then to another thread of the machine
// (sched_yield: the peer process, when there are fewer free cores than
// spinning threads).
func Yield() {
	runtime.Gosched()
	unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
}
