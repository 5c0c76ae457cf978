package platform

import (
	"os"

	"golang.org/x/sys/unix"
)

// On macOS a token's start is the low 32 bits of the process's start time in
// microseconds since the epoch (p_starttime), from sysctl kern.proc.pid.

// sZomb is SZOMB in <sys/proc.h>: exited, not yet reaped.
const sZomb = 5

func selfToken() Token {
	pid := os.Getpid()
	_, start, _ := kinfo(pid)
	return MakeToken(pid, start)
}

// kinfo reads the process's state (p_stat) and start time (p_starttime, in
// microseconds) with sysctl kern.proc.pid.PID.
func kinfo(pid int) (stat int8, start uint64, err error) {
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return 0, 0, err
	}
	if int(k.Proc.P_pid) != pid {
		return 0, 0, unix.ESRCH
	}
	tv := k.Proc.P_starttime
	return k.Proc.P_stat, uint64(tv.Sec)*1_000_000 + uint64(tv.Usec), nil
}

func alive(t Token) bool {
	pid := t.PID()
	if pid <= 0 {
		return false
	}
	if err := unix.Kill(pid, 0); err == unix.ESRCH {
		return false
	}
	stat, start, err := kinfo(pid)
	if err != nil {
		// Gone between kill and sysctl, or hidden: trust kill's answer
		// unless the process is simply gone.
		return err != unix.ESRCH
	}
	if stat == sZomb {
		return false
	}
	return uint32(start) == t.Start()
}
