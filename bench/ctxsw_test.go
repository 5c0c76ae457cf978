//go:build unix

package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
)

// ctxSwitches returns the context switches so far (voluntary and not) of
// every thread of the processes pids, from /proc/PID/task/*/status. ok is
// false where there is no such file (not Linux). A thread that exits takes
// its count with it; the Go runtime's threads live as long as their process.
//
// BenchmarkGRPCUnary reports them per call (cs/op): on a virtual machine a
// call's p50 grows with its context switches, each a sleeping thread woken
// (docs/services.md, "Where a gRPC call's time goes").
func ctxSwitches(pids ...int) (n int64, ok bool) {
	for _, pid := range pids {
		tasks, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "status"))
		if err != nil || len(tasks) == 0 {
			return 0, false
		}
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue // the thread exited
			}
			for line := range bytes.Lines(b) {
				k, v, found := bytes.Cut(line, []byte(":"))
				if !found || !bytes.HasSuffix(k, []byte("ctxt_switches")) {
					continue
				}
				if c, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64); err == nil {
					n += c
				}
			}
		}
	}
	return n, true
}
