//go:build !unix

package main

import "runtime"

// kernel returns the operating system's name.
func kernel() string { return runtime.GOOS }
