//go:build !linux

package platform

import "runtime"

// Yield gives the processor to other goroutines (runtime.Gosched). An
// OS-level yield is Linux's only so far: Go exposes none portably.
func Yield() { runtime.Gosched() }
