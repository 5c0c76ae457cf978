//go:build !linux && !windows && !(darwin && cgo)

package wake

import "time"

// osWord polls (see pollWait): this platform or build has no cross-process
// wait primitive wired in. On macOS this is the CGO_ENABLED=0 build; the cgo
// build uses os_sync_wait_on_address (wake_darwin.go).
type osWord struct{}

func (osWord) open(*uint32, string, int) error { return nil }

func (osWord) close() error { return nil }

func (osWord) wait(addr *uint32, val uint32, timeout time.Duration) error {
	return pollWait(addr, val, timeout)
}

func (osWord) wake(*uint32, int) error { return nil }
