//go:build !linux

package main

import (
	"runtime"

	"github.com/shmchan/shmchan/internal/inspect"
)

// diagnose on other systems: only what the portable code can tell.
func diagnose(uint64) []finding {
	dir := inspect.Dir()
	if dir == "" {
		dir = "(none: the OS cannot list its objects)"
	}
	return []finding{{Check: "platform", Status: checkInfo,
		Message: "on " + runtime.GOOS + " doctor checks nothing yet; objects live in " + dir}}
}
