//go:build !linux

package shm

import "github.com/shmchan/shmchan/internal/platform"

// No multi-word futex wait outside Linux: every wait parks its own goroutine
// (see parkFallback).

func pollSupported() bool { return false }

func netYield() { platform.Yield() }

type pollGroup struct{}

func newPollGroup() *pollGroup           { return &pollGroup{} }
func (g *pollGroup) add(*pollEntry) bool { return false }
func (g *pollGroup) remove(*pollEntry)   {}
