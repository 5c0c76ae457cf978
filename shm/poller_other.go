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

// No io_uring outside Linux.
type uringPoller struct{}

func uringGet() *uringPoller             { return nil }
func uringStarted() *uringPoller         { return nil }
func (u *uringPoller) add([]pollEntry)   {}
func (u *uringPoller) remove(*pollEntry) {}
func pollerKind() string                 { return "none" }
