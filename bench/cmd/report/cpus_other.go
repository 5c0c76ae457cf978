//go:build !linux

package main

// allowedCPUs returns nil: the benchmarks pin threads on Linux only
// (bench/pin_linux_test.go).
func allowedCPUs() []int { return nil }
