//go:build !windows

package testproc

// UnderWine reports whether this Windows process runs under Wine: never,
// on this system.
func UnderWine() bool { return false }

// wineStartFault reports whether err, from exec.Cmd.Start, is Wine's own:
// never, on this system.
func wineStartFault(error) bool { return false }
