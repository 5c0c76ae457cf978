package testproc

import (
	"errors"
	"syscall"
)

// UnderWine reports whether this Windows process runs under Wine: Wine's
// ntdll.dll exports wine_get_version, Windows' does not.
func UnderWine() bool {
	return syscall.NewLazyDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// errInternal is ERROR_INTERNAL_ERROR, the error of Wine's CreateProcess
// when it fails on its own account.
const errInternal = syscall.Errno(1359)

// wineStartFault reports whether err, from exec.Cmd.Start, is Wine's own.
func wineStartFault(err error) bool {
	return errors.Is(err, errInternal)
}
