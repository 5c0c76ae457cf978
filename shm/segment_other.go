//go:build !windows && !(unix && (cgo || linux || darwin))

package shm

import (
	"errors"
	"io/fs"
	"runtime"
)

// No shared-memory path exists for this platform and build yet.

var (
	errExist    = fs.ErrExist
	errNotExist = fs.ErrNotExist
)

// Implementation names the code path this build uses to reach shared memory.
func Implementation() string { return runtime.GOOS + "/unsupported" }

func createSegment(string, int64, *options) (*Segment, error) { return nil, errors.ErrUnsupported }

func openSegment(string, *options) (*Segment, error) { return nil, errors.ErrUnsupported }

func removeSegment(string) error { return errors.ErrUnsupported }
