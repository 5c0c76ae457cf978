package shm

import (
	"errors"
	"io/fs"
)

// Windows segments (CreateFileMappingW) come with their own issue; until then
// every call returns errors.ErrUnsupported.

var (
	errExist    = fs.ErrExist
	errNotExist = fs.ErrNotExist
)

// Implementation names the code path this build uses to reach shared memory.
func Implementation() string { return "windows/unsupported" }

func createSegment(string, int64, *options) (*Segment, error) { return nil, errors.ErrUnsupported }

func openSegment(string, *options) (*Segment, error) { return nil, errors.ErrUnsupported }

func removeSegment(string) error { return errors.ErrUnsupported }
