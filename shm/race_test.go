//go:build race

package shm_test

// raceEnabled scales the cross-process workloads down under the race
// detector, which slows every memory access of the child processes too.
const raceEnabled = true
