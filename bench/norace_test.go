//go:build !race

package bench

//lint:ignore U1000 used by the unix-only tests (allocs_test.go, harness_test.go); unused on windows
const raceEnabled = false
