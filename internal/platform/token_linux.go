package platform

import (
	"bytes"
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

func selfToken() Token {
	pid := os.Getpid()
	_, start, _ := stat(pid)
	return MakeToken(pid, start)
}

// stat reads the state letter and the start time (clock ticks since boot)
// of process pid, from the stat file of its main thread, /proc/PID/task/PID/stat:
// the same fields as /proc/PID/stat, read from the same task. It is not
// /proc/PID/stat because qemu-user fakes that file for the emulated process
// itself, with a start time that is often one tick off the kernel's: the
// process's own token then disagrees with what its peers read, and they
// take it for dead (found by .ci/arm64.sh; see docs/platforms.md).
func stat(pid int) (state byte, start uint64, err error) {
	p := strconv.Itoa(pid)
	b, err := os.ReadFile("/proc/" + p + "/task/" + p + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces or
	// parentheses itself: parse from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("platform: malformed /proc stat")
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state), f[19] is field 22 (starttime)
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, errors.New("platform: malformed /proc stat")
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64)
	return f[0][0], start, err
}

func alive(t Token) bool {
	pid := t.PID()
	if pid <= 0 {
		return false
	}
	if err := unix.Kill(pid, 0); err == unix.ESRCH {
		return false
	}
	state, start, err := stat(pid)
	if err != nil {
		// Gone between kill and read, or hidden from us (/proc mounted
		// hidepid=2, or another PID namespace's /proc): ask kill again, which
		// finds the process whether or not /proc shows it.
		return unix.Kill(pid, 0) != unix.ESRCH
	}
	if state == 'Z' || state == 'X' {
		return false
	}
	// A token whose start is 0 was made where the start was unknown: judge
	// it by PID alone (docs/layout.md, "Process tokens").
	return t.Start() == 0 || uint32(start) == t.Start()
}
