//go:build !linux

package shm

import "runtime"

// osYield yields to other goroutines; a portable OS-level yield is left to
// the per-OS files.
func osYield() { runtime.Gosched() }
