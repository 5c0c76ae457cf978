//go:build !linux

package shm

// No multi-word futex wait outside Linux: every wait parks its own goroutine
// (see parkFallback).

const pollGroupSize = 0

func pollSupported() bool { return false }

func netYield() { osYield() }

type pollGroup struct{}

func newPollGroup() *pollGroup           { return &pollGroup{} }
func (g *pollGroup) add(*pollEntry) bool { return false }
func (g *pollGroup) remove(*pollEntry)   {}
