//go:build race

package interop_test

// raceEnabled scales the million-message streams down under the race
// detector, which slows the Go side tenfold.
const raceEnabled = true
