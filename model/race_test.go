//go:build race

package model

// raceEnabled: the model check runs once, in the plain test run; the race
// detector sees nothing of a spin run.
const raceEnabled = true
