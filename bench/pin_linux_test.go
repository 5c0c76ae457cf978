package bench

import (
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pinHot locks the calling goroutine to its thread and binds that thread to
// one CPU, when SHMCHAN_BENCH_PIN=P,C asks for it (P the parent's CPU, C the
// child's; side 0 is the parent, 1 the child). It returns the undo.
func pinHot(side int) func() {
	v := os.Getenv("SHMCHAN_BENCH_PIN")
	if v == "" {
		return func() {}
	}
	cpus := strings.Split(v, ",")
	if len(cpus) != 2 {
		return func() {}
	}
	cpu, err := strconv.Atoi(cpus[side])
	if err != nil {
		return func() {}
	}
	runtime.LockOSThread()
	var old, set unix.CPUSet
	_ = unix.SchedGetaffinity(0, &old)
	set.Set(cpu)
	_ = unix.SchedSetaffinity(0, &set)
	return func() {
		_ = unix.SchedSetaffinity(0, &old)
		runtime.UnlockOSThread()
	}
}
