package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/shmchan/shmchan/shm"
)

// machine describes where and how a run was taken.
type machine struct {
	cpu     string
	ncpu    int
	kernel  string
	goVer   string
	shmImpl string
	date    time.Time
	groups  []group
	elapsed time.Duration
	from    string    // the saved output the report was made from, if any
	load    [2]string // the load average (/proc/loadavg) before and after the run
	pin     string    // SHMCHAN_BENCH_PIN of the run ("P,C"), or "" if the threads were not pinned
}

func describeMachine(ctx context.Context, rs *results) (*machine, error) {
	m := &machine{
		cpu:     rs.header["cpu"],
		pin:     rs.header["pin"],
		ncpu:    runtime.NumCPU(),
		goVer:   runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		shmImpl: shm.Implementation(),
		date:    time.Now().UTC(),
	}
	if out, err := exec.CommandContext(ctx, "go", "version").Output(); err == nil {
		m.goVer = strings.TrimPrefix(strings.TrimSpace(string(out)), "go version ")
	}
	if m.cpu == "" {
		m.cpu = cpuModel()
	}
	m.kernel = kernel()
	return m, nil
}

// cpuModel reads the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
