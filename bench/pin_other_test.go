//go:build unix && !linux

package bench

// pinHot does nothing outside Linux: SHMCHAN_BENCH_PIN binds threads with
// sched_setaffinity (pin_linux_test.go).
func pinHot(int) func() { return func() {} }
