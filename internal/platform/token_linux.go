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
// from /proc/PID/stat.
func stat(pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
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
		// Gone between kill and read, or /proc hidden: trust kill's answer
		// unless the file is simply missing.
		return !errors.Is(err, os.ErrNotExist)
	}
	if state == 'Z' || state == 'X' {
		return false
	}
	return uint32(start) == t.Start()
}
