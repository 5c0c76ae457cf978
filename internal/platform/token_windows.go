package platform

import (
	"errors"

	"golang.org/x/sys/windows"
)

// On Windows a token's start is the low 32 bits of the process's creation
// time (a FILETIME, in 100 ns units), from GetProcessTimes.

func selfToken() Token {
	pid := int(windows.GetCurrentProcessId())
	start, _ := creationTime(windows.CurrentProcess())
	return MakeToken(pid, start)
}

func creationTime(h windows.Handle) (uint64, error) {
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return 0, err
	}
	return uint64(created.HighDateTime)<<32 | uint64(created.LowDateTime), nil
}

// alive opens the process with just the rights it needs. A process that has
// exited but whose object is still held open by someone (Windows' zombie) is
// signalled, and reads as dead.
func alive(t Token) bool {
	pid := t.PID()
	if pid <= 0 {
		return false
	}
	h, err := windows.OpenProcess(windows.SYNCHRONIZE|windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		// ERROR_INVALID_PARAMETER is the answer for a PID that names no
		// process. Any other failure (ERROR_ACCESS_DENIED for another
		// user's or a protected process) leaves the process existing, so it
		// counts as alive, like EPERM from kill(pid, 0) on Unix: a false
		// "dead" would hand a live peer's role to another process.
		return !errors.Is(err, windows.ERROR_INVALID_PARAMETER)
	}
	defer windows.CloseHandle(h)
	if ev, err := windows.WaitForSingleObject(h, 0); err == nil && ev == windows.WAIT_OBJECT_0 {
		return false // exited
	}
	start, err := creationTime(h)
	if err != nil {
		return true // running, start unknown: trust the wait's answer
	}
	return uint32(start) == t.Start()
}
